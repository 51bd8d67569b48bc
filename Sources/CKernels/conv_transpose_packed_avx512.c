// Backward of the 2×2×2 stride-2 transposed convolution with AVX-512, from a packed chunk of dy
// (include/conv_small_avx512.h, dro_convtranspose_backward_packed_avx512).
//
// The direct kernel (conv_small_avx512.c) reads dy in place. At 96³ the channel planes of dy lie a
// multiple of 128 KiB apart (8·48³ Floats), so the 4·Cout output rows of one input row map to the
// same few sets of the 8-way L1 and L2, and its re-reads of them (once per block of input channels
// for dx and again for the weight gradient) miss (inferred from the addresses: this version, which
// reads each line of dy from memory once, runs at ~95 % of the sgemm peak where the direct kernel
// ran at ~60 %).
// Here each chunk of whole input rows (of one sample) is first copied into a contiguous buffer:
//   P [Cout·8, T]: row co·8 + tap holds dy of that tap for the chunk's T input voxels (the c = 0 / 1
//                  taps de-interleaved with two permutes per 32 Floats; the bias gradient is
//                  summed in the same pass), rows padded with zeros to a multiple of 16 voxels;
//   XT [T, Cin']:  the chunk's x transposed (Cin' = Cin rounded up to 16, zero padded).
// Then two register-blocked GEMMs run from these L2-resident buffers:
//   dx [Cin, T]       = W [Cin, Cout·8] · P   (8 input channels × 48 voxels in registers,
//                        the weights broadcast, K = Cout·8 in order);
//   dWᵀ [Cout·8, Cin] += P · XT               (6 rows of P × 64 input channels in registers,
//                        P broadcast, Float sums over the chunk's voxels in order, then added into
//                        Double partials).
// Voxels of a chunk are contiguous across rows, so narrow rows (W = 24, 12) fill the lanes.
// While a chunk's GEMMs run (compute bound), the next chunk's dy rows and x are prefetched.
//
// Forward (dro_convtranspose_forward_packed_avx512): per chunk, x copied contiguous, then
// P = Wᵀ · X (8 rows of P × 48 voxels in registers, Σ over Cin in order from the weights in
// panels [K/8, Cin, 8]), and y's rows from P (taps c = 0 / 1 interleaved, + bias, streaming stores)
// as soon as a column tile completes them. Same sums in the same order as the direct forward.

#include "conv_small_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "avx512_common.h"

enum { PK_LANES = 16, PK_DX_CI = 8, PK_DX_V = 3, PK_DW_K = 6, PK_DW_CV = 4 };

static long round16(long n) { return (n + 15) / 16 * 16; }

/// Row stride of P for chunks of up to `chunkVoxels` voxels: a multiple of 16 Floats, not a
/// multiple of 1 KiB (rows that far apart would share L1 sets).
static long packed_ldp(long chunkVoxels) {
    long ldp = round16(chunkVoxels);
    if ((ldp * 4) % 1024 == 0) ldp += 16;
    return ldp;
}

long dro_convtranspose_backward_packed_scratch(long cin, long cout, long chunkVoxels) {
    return 8 * cout * packed_ldp(chunkVoxels) + round16(chunkVoxels) * round16(cin) + 64;
}

/// P and the bias gradient for the rows [c0, c1) of sample n (dy sample base dys).
static __attribute__((noinline, target("avx512f,avx512bw,avx512dq,avx512vl"))) void pack_dy(const float *dys, dro_conv_dims d, long cout, long c0, long c1, float *P, long ldp,
                           double *db) {
    const long W = d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * d.inD * d.inH * W, DH = d.inD * d.inH;
    const long T = (c1 - c0) * W, Tp = round16(T);
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (long co = 0; co < cout; co++) {
        __m512 bacc = _mm512_setzero_ps();
        for (int a = 0; a < 2; a++) {
            for (long row = c0; row < c1; row++) {
                const long r = row % DH, dd = r / d.inH, h = r % d.inH;
                const long j0 = (row - c0) * W;
                for (int b = 0; b < 2; b++) {
                    const float *src = dys + co * ov + (2 * dd + a) * ohw + (2 * h + b) * ow;
                    float *e = P + (co * 8 + (a * 2 + b) * 2) * ldp + j0, *f = e + ldp;
                    for (long w0 = 0; w0 < W; w0 += PK_LANES) {
                        const long len = W - w0;
                        const __mmask16 m = lane_mask(len), mlo = lane_mask(2 * len), mhi = lane_mask(2 * len - PK_LANES);
                        const __m512 lo = _mm512_maskz_loadu_ps(mlo, src + 2 * w0);
                        const __m512 hi = _mm512_maskz_loadu_ps(mhi, src + 2 * w0 + PK_LANES);
                        const __m512 te = _mm512_permutex2var_ps(lo, ie, hi), to = _mm512_permutex2var_ps(lo, io, hi);
                        _mm512_mask_storeu_ps(e + w0, m, te);
                        _mm512_mask_storeu_ps(f + w0, m, to);
                        if (db) bacc = _mm512_add_ps(bacc, _mm512_add_ps(te, to));
                    }
                }
            }
        }
        if (db) db[co] += (double)_mm512_reduce_add_ps(bacc);
        if (Tp > T) {
            const __mmask16 pad = (__mmask16)~lane_mask(T - (Tp - PK_LANES));
            for (int t = 0; t < 8; t++) _mm512_mask_storeu_ps(P + (co * 8 + t) * ldp + Tp - PK_LANES, pad, _mm512_setzero_ps());
        }
    }
}

/// r[i] := column i of the 16×16 block whose rows are r[0…15] (unpack, then 128-bit lane shuffles).
AVX512_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_f32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

/// XT [Tp, ldx] = the chunk's x [cin, T] (channel stride iv) transposed, zero padded.
static __attribute__((noinline, target("avx512f,avx512bw,avx512dq,avx512vl")))
void pack_x(const float *xs, long iv, long cin, long T, float *XT, long ldx) {
    const long Tp = round16(T);
    for (long j0 = 0; j0 < Tp; j0 += 16) {
        const __mmask16 m = lane_mask(T - j0);
        for (long c0 = 0; c0 < ldx; c0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = c0 + i < cin ? _mm512_maskz_loadu_ps(m, xs + (c0 + i) * iv + j0) : _mm512_setzero_ps();
            transpose16(r);
            for (int j = 0; j < 16; j++) _mm512_storeu_ps(XT + (j0 + j) * ldx + c0, r[j]);
        }
    }
}

/// Software prefetch of the next chunk's dy rows and x while the GEMMs of this chunk run (they
/// are compute bound; the packing passes otherwise wait on memory): a cursor over the chunk's
/// contiguous byte ranges (per output channel and a: the output rows of each (n, d) plane; per
/// input channel: the chunk's voxels), advanced a few lines per call from the GEMM loops.
enum { PF_MAX_SEGS = 16 };
typedef struct {
    const char *dy, *x;
    long ov, ohw, cout, cin, iv, xbytes, perCall;
    long segStart[PF_MAX_SEGS], segBytes[PF_MAX_SEGS];
    int segs;
    long co, a, seg, off, ci, xoff;
} pf_cursor;

/// The cursor over the rows [c0, c1) of sample n (no range when c0 ≥ c1), `calls` calls to come.
static void pf_init(pf_cursor *s, const float *x, const float *dy, dro_conv_dims d, long cin, long cout,
                    long dySampleStride, long c0, long c1, long calls) {
    const long W = d.inW, DH = d.inD * d.inH, ow = 2 * W, ohw = 4 * d.inH * W, iv = DH * W;
    s->segs = 0; s->co = 0; s->a = 0; s->seg = 0; s->off = 0; s->ci = 0; s->xoff = 0; s->perCall = 0;
    s->cout = cout; s->cin = cin; s->ov = 4 * 8 * iv; s->ohw = 4 * ohw; s->iv = 4 * iv;
    if (c0 >= c1) { s->cout = 0; s->cin = 0; return; }
    const long n = c0 / DH;
    s->dy = (const char *)(dy + n * dySampleStride);
    s->x = (const char *)(x + n * cin * iv + (c0 - n * DH) * W);
    s->xbytes = 4 * (c1 - c0) * W;
    for (long row = c0; row < c1 && s->segs < PF_MAX_SEGS;) {
        const long r = row - n * DH, dd = r / d.inH, h = r % d.inH;
        long end = row + (d.inH - h);
        if (end > c1) end = c1;
        s->segStart[s->segs] = 4 * ((2 * dd) * ohw + (2 * h) * ow);
        s->segBytes[s->segs] = 4 * (end - row) * 2 * ow;
        s->segs++;
        row = end;
    }
    long lines = 0;
    for (int i = 0; i < s->segs; i++) lines += s->segBytes[i] / 64 + 1;
    lines = lines * 2 * cout + cin * (s->xbytes / 64 + 1);
    s->perCall = calls > 0 ? (lines + calls - 1) / calls : 0;
}

static __attribute__((noinline)) void pf_step(pf_cursor *s) {
    for (long i = 0; i < s->perCall; i++) {
        if (s->co < s->cout) {
            __builtin_prefetch(s->dy + s->co * s->ov + s->a * s->ohw + s->segStart[s->seg] + s->off, 0, 2);
            s->off += 64;
            if (s->off >= s->segBytes[s->seg]) {
                s->off = 0;
                if (++s->seg == s->segs) { s->seg = 0; if (++s->a == 2) { s->a = 0; s->co++; } }
            }
        } else if (s->ci < s->cin) {
            __builtin_prefetch(s->x + s->ci * s->iv + s->xoff, 0, 2);
            s->xoff += 64;
            if (s->xoff >= s->xbytes) { s->xoff = 0; s->ci++; }
        } else {
            return;
        }
    }
}

/// Calls of pf_step per K-iterations (dx) or voxels (dW).
enum { PF_EVERY = 16 };

/// dx rows [ci0, ci0 + MR) for chunk voxels [j0, j0 + 16·nv) (the last vector masked by `last`):
/// Σ_k w[ci, k] · P[k, j], k = 0 … K−1 in order.
AVX512_INLINE void dx_tile(const int MR, const int NV, const float *w, long K, long ci0, const float *P, long ldp,
                           long j0, float *dxs, long iv, __mmask16 last, pf_cursor *pf) {
    __m512 acc[PK_DX_CI][PK_DX_V];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    const float *wr = w + ci0 * K;
    const float *pr = P + j0;
    for (long k = 0; k < K; k++) {
        if ((k & (PF_EVERY - 1)) == PF_EVERY - 1) pf_step(pf);
        __m512 p[PK_DX_V];
        for (int v = 0; v < NV; v++) p[v] = _mm512_loadu_ps(pr + k * ldp + 16 * v);
        for (int i = 0; i < MR; i++) {
            const __m512 b = _mm512_set1_ps(wr[i * K + k]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(b, p[v], acc[i][v]);
        }
    }
    for (int i = 0; i < MR; i++) {
        float *out = dxs + (ci0 + i) * iv + j0;
        for (int v = 0; v < NV; v++) {
            if (v == NV - 1) _mm512_mask_storeu_ps(out + 16 * v, last, acc[i][v]);
            else _mm512_storeu_ps(out + 16 * v, acc[i][v]);
        }
    }
}

AVX512_INLINE void dx_tiles_mr(const int MR, const float *w, long K, long ci0, const float *P, long ldp, long T,
                               float *dxs, long iv, pf_cursor *pf) {
    for (long j0 = 0; j0 < T; j0 += 16 * PK_DX_V) {
        const long rem = T - j0;
        const int nv = rem >= 16 * PK_DX_V ? PK_DX_V : (int)((rem + 15) / 16);
        const __mmask16 last = lane_mask(rem - 16 * (nv - 1));
        switch (nv) {
        case 3: dx_tile(MR, 3, w, K, ci0, P, ldp, j0, dxs, iv, last, pf); break;
        case 2: dx_tile(MR, 2, w, K, ci0, P, ldp, j0, dxs, iv, last, pf); break;
        default: dx_tile(MR, 1, w, K, ci0, P, ldp, j0, dxs, iv, last, pf); break;
        }
    }
}

/// dWᵀ rows [k0, k0 + NK), input channels [16·cv0, 16·(cv0 + CV)): Σ_j P[k, j] · XT[j, ci] over
/// the chunk's voxels in order (Float), then added into dwT [K, cin] (Double).
AVX512_INLINE void dw_tile(const int NK, const int CV, const float *P, long ldp, long k0, const float *XT, long ldx,
                           long cv0, long Tp, double *dwT, long cin, pf_cursor *pf) {
    __m512 acc[PK_DW_K][PK_DW_CV];
    for (int q = 0; q < NK; q++)
        for (int c = 0; c < CV; c++) acc[q][c] = _mm512_setzero_ps();
    const float *pr = P + k0 * ldp;
    const float *xr = XT + 16 * cv0;
    for (long j = 0; j < Tp; j++) {
        if ((j & (PF_EVERY - 1)) == PF_EVERY - 1) pf_step(pf);
        __m512 xv[PK_DW_CV];
        for (int c = 0; c < CV; c++) xv[c] = _mm512_loadu_ps(xr + j * ldx + 16 * c);
        for (int q = 0; q < NK; q++) {
            const __m512 b = _mm512_set1_ps(pr[q * ldp + j]);
            for (int c = 0; c < CV; c++) acc[q][c] = _mm512_fmadd_ps(b, xv[c], acc[q][c]);
        }
    }
    for (int q = 0; q < NK; q++)
        for (int c = 0; c < CV; c++) {
            const long ci = 16 * (cv0 + c);
            double *o = dwT + (k0 + q) * cin + ci;
            const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(acc[q][c]));
            const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(acc[q][c], 1));
            const long n = cin - ci;
            const __mmask8 mlo = (__mmask8)(n >= 8 ? 0xff : (1u << (n < 0 ? 0 : n)) - 1u);
            const __mmask8 mhi = (__mmask8)(n >= 16 ? 0xff : (n <= 8 ? 0 : (1u << (n - 8)) - 1u));
            _mm512_mask_storeu_pd(o, mlo, _mm512_add_pd(_mm512_maskz_loadu_pd(mlo, o), lo));
            _mm512_mask_storeu_pd(o + 8, mhi, _mm512_add_pd(_mm512_maskz_loadu_pd(mhi, o + 8), hi));
        }
}

AVX512_INLINE void dw_tiles_nk(const int NK, const float *P, long ldp, long k0, const float *XT, long ldx, long cvs,
                               long Tp, double *dwT, long cin, pf_cursor *pf) {
    for (long cv0 = 0; cv0 < cvs; cv0 += PK_DW_CV) {
        switch (cvs - cv0 < PK_DW_CV ? cvs - cv0 : PK_DW_CV) {
        case 4: dw_tile(NK, 4, P, ldp, k0, XT, ldx, cv0, Tp, dwT, cin, pf); break;
        case 3: dw_tile(NK, 3, P, ldp, k0, XT, ldx, cv0, Tp, dwT, cin, pf); break;
        case 2: dw_tile(NK, 2, P, ldp, k0, XT, ldx, cv0, Tp, dwT, cin, pf); break;
        default: dw_tile(NK, 1, P, ldp, k0, XT, ldx, cv0, Tp, dwT, cin, pf); break;
        }
    }
}

/// End of the chunk starting at input row c0: at most chunkRows rows, within row1 and within c0's sample.
static long chunk_end(long c0, long row1, long chunkRows, long DH) {
    long c1 = c0 + chunkRows;
    if (c1 > row1) c1 = row1;
    const long sampleEnd = (c0 / DH + 1) * DH;
    return c1 > sampleEnd ? sampleEnd : c1;
}

int dro_convt_packed_prefetch = 1;

AVX512
void dro_convtranspose_backward_packed_avx512(const float *x, const float *w, const float *dy, float *dx,
                                              double *dwTPartial, double *dbPartial, dro_conv_dims d,
                                              long cin, long cout, long dySampleStride, long row0, long row1,
                                              long chunkVoxels, float *scratch) {
    const long W = d.inW, DH = d.inD * d.inH, iv = DH * W, K = 8 * cout;
    const long ldp = packed_ldp(chunkVoxels), ldx = round16(cin), cvs = ldx / 16;
    float *P = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *XT = P + K * ldp;
    const long chunkRows = chunkVoxels / W < 1 ? 1 : chunkVoxels / W;
    const int prefetch = dro_convt_packed_prefetch;
    pf_cursor pf;
    long c0 = row0;
    while (c0 < row1) {
        const long n = c0 / DH;
        const long c1 = chunk_end(c0, row1, chunkRows, DH);
        const long T = (c1 - c0) * W, Tp = round16(T), v0 = (c0 - n * DH) * W;
        pack_dy(dy + n * dySampleStride, d, cout, c0, c1, P, ldp, dbPartial);
        // Prefetch calls to come in this chunk's GEMMs (dx: per PF_EVERY of K per tile; dW: per PF_EVERY voxels per tile).
        const long calls = (dx ? (cin + PK_DX_CI - 1) / PK_DX_CI * ((T + 16 * PK_DX_V - 1) / (16 * PK_DX_V)) * (K / PF_EVERY) : 0)
                         + (K + PK_DW_K - 1) / PK_DW_K * ((cvs + PK_DW_CV - 1) / PK_DW_CV) * (Tp / PF_EVERY);
        pf_init(&pf, x, dy, d, cin, cout, dySampleStride, c1, prefetch ? chunk_end(c1, row1, chunkRows, DH) : c1, calls);
        if (dx) {
            float *dxs = dx + n * cin * iv + v0;
            for (long ci0 = 0; ci0 < cin; ci0 += PK_DX_CI) {
                switch (cin - ci0 < PK_DX_CI ? cin - ci0 : PK_DX_CI) {
#define PK_DX_CASE(m) case m: dx_tiles_mr(m, w, K, ci0, P, ldp, T, dxs, iv, &pf); break;
                    PK_DX_CASE(1) PK_DX_CASE(2) PK_DX_CASE(3) PK_DX_CASE(4)
                    PK_DX_CASE(5) PK_DX_CASE(6) PK_DX_CASE(7) PK_DX_CASE(8)
#undef PK_DX_CASE
                }
            }
        }
        pack_x(x + n * cin * iv + v0, iv, cin, T, XT, ldx);
        for (long k0 = 0; k0 < K; k0 += PK_DW_K) {
            switch (K - k0 < PK_DW_K ? K - k0 : PK_DW_K) {
#define PK_DW_CASE(q) case q: dw_tiles_nk(q, P, ldp, k0, XT, ldx, cvs, Tp, dwTPartial, cin, &pf); break;
                PK_DW_CASE(1) PK_DW_CASE(2) PK_DW_CASE(3) PK_DW_CASE(4) PK_DW_CASE(5) PK_DW_CASE(6)
#undef PK_DW_CASE
            }
        }
        c0 = c1;
    }
}

// MARK: forward from packed chunks

/// P rows [k0, k0 + 8) for chunk voxels [j0, j0 + 16·nv): Σ_ci w[ci, k] · x[ci, j], ci = 0 … cin−1
/// in order (x read in place, the last vector masked by `last`). w: the panels [K/8, cin, 8] (the
/// 8 weights of one input channel in one line; in w's own layout they lie K Floats apart per
/// channel, which at K = 512 puts all of a tile's lines into 2 L1 sets).
AVX512_INLINE void fwd_tile(const int NV, const float *w, long K, long k0, const float *xs, long iv, long cin,
                            long j0, float *P, long ldp, __mmask16 last, pf_cursor *pf) {
    __m512 acc[8][PK_DX_V];
    for (int i = 0; i < 8; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    const float *wr = w + k0 * cin;
    const float *xr = xs + j0;
    for (long ci = 0; ci < cin; ci++) {
        if ((ci & (PF_EVERY - 1)) == PF_EVERY - 1) pf_step(pf);
        __m512 p[PK_DX_V];
        for (int v = 0; v < NV; v++)
            p[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, xr + ci * iv + 16 * v) : _mm512_loadu_ps(xr + ci * iv + 16 * v);
        for (int i = 0; i < 8; i++) {
            const __m512 b = _mm512_set1_ps(wr[ci * 8 + i]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(b, p[v], acc[i][v]);
        }
    }
    for (int i = 0; i < 8; i++)
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(P + (k0 + i) * ldp + j0 + 16 * v, acc[i][v]);
}

/// y rows [c0, c1) of the chunk starting at row chunk0 (sample base ys) from P: taps c = 0 / 1 interleaved, + bias; whole
/// 64-byte aligned lines with streaming stores.
AVX512_INLINE void scatter_y(const float *P, long ldp, const float *bias, float *ys, dro_conv_dims d, long cout,
                             long chunk0, long c0, long c1) {
    const long W = d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * d.inD * d.inH * W, DH = d.inD * d.inH;
    const __m512i ilo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ihi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (long co = 0; co < cout; co++) {
        const __m512 bv = _mm512_set1_ps(bias ? bias[co] : 0.0f);
        for (int a = 0; a < 2; a++)
            for (long row = c0; row < c1; row++) {
                const long r = row % DH, dd = r / d.inH, h = r % d.inH, j0 = (row - chunk0) * W;
                for (int b = 0; b < 2; b++) {
                    const float *e = P + (co * 8 + (a * 2 + b) * 2) * ldp + j0, *f = e + ldp;
                    float *out = ys + co * ov + (2 * dd + a) * ohw + (2 * h + b) * ow;
                    for (long w0 = 0; w0 < W; w0 += PK_LANES) {
                        const long len = W - w0;
                        const __mmask16 m = lane_mask(len), mlo = lane_mask(2 * len), mhi = lane_mask(2 * len - PK_LANES);
                        const __m512 ev = _mm512_add_ps(_mm512_maskz_loadu_ps(m, e + w0), bv);
                        const __m512 fv = _mm512_add_ps(_mm512_maskz_loadu_ps(m, f + w0), bv);
                        float *o = out + 2 * w0;
                        if (len >= PK_LANES && ((uintptr_t)o & 63) == 0) {
                            _mm512_stream_ps(o, _mm512_permutex2var_ps(ev, ilo, fv));
                            _mm512_stream_ps(o + PK_LANES, _mm512_permutex2var_ps(ev, ihi, fv));
                        } else {
                            _mm512_mask_storeu_ps(o, mlo, _mm512_permutex2var_ps(ev, ilo, fv));
                            _mm512_mask_storeu_ps(o + PK_LANES, mhi, _mm512_permutex2var_ps(ev, ihi, fv));
                        }
                    }
                }
            }
    }
}

long dro_convtranspose_forward_packed_scratch(long cin, long cout, long chunkVoxels) {
    return (8 * cout + cin) * packed_ldp(chunkVoxels) + 8 * cout * cin + 64;
}

AVX512
void dro_convtranspose_forward_packed_avx512(const float *x, const float *w, const float *bias, float *y,
                                             dro_conv_dims d, long cin, long cout, long ySampleStride,
                                             long row0, long row1, long chunkVoxels, float *scratch) {
    const long W = d.inW, DH = d.inD * d.inH, iv = DH * W, K = 8 * cout;
    const long ldp = packed_ldp(chunkVoxels);
    float *P = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *XP = P + K * ldp;
    float *panels = XP + cin * ldp;
    for (long k0 = 0; k0 < K; k0 += 8)
        for (long ci = 0; ci < cin; ci++)
            for (int i = 0; i < 8; i++) panels[k0 * cin + ci * 8 + i] = w[ci * K + k0 + i];
    const long chunkRows = chunkVoxels / W < 1 ? 1 : chunkVoxels / W;
    const int prefetch = dro_convt_packed_prefetch;
    pf_cursor pf;
    long c0 = row0;
    while (c0 < row1) {
        const long n = c0 / DH;
        const long c1 = chunk_end(c0, row1, chunkRows, DH);
        const long T = (c1 - c0) * W, v0 = (c0 - n * DH) * W;
        const float *xsrc = x + n * cin * iv + v0;
        // The chunk's x rows contiguous (ldp apart, zero padded): in place they lie iv apart,
        // which puts a column tile's lines into a few L1 sets.
        for (long ci = 0; ci < cin; ci++) {
            float *dst = XP + ci * ldp;
            for (long j = 0; j < round16(T); j += PK_LANES)
                _mm512_storeu_ps(dst + j, _mm512_maskz_loadu_ps(lane_mask(T - j), xsrc + ci * iv + j));
        }
        const float *xs = XP;
        const long tiles = (T + 16 * PK_DX_V - 1) / (16 * PK_DX_V);
        pf_init(&pf, x, (const float *)0, d, cin, 0, 0, c1, prefetch ? chunk_end(c1, row1, chunkRows, DH) : c1,
                tiles * (K / 8) * (cin / PF_EVERY));
        // The rows whose voxels are all in P go out after each column tile (the streaming stores
        // drain while the next tile computes).
        long scattered = c0;
        for (long j0 = 0; j0 < T; j0 += 16 * PK_DX_V) {
            const long rem = T - j0;
            const int nv = rem >= 16 * PK_DX_V ? PK_DX_V : (int)((rem + 15) / 16);
            const __mmask16 last = lane_mask(rem - 16 * (nv - 1));
            for (long k0 = 0; k0 < K; k0 += 8) {
                switch (nv) {
                case 3: fwd_tile(3, panels, K, k0, xs, ldp, cin, j0, P, ldp, last, &pf); break;
                case 2: fwd_tile(2, panels, K, k0, xs, ldp, cin, j0, P, ldp, last, &pf); break;
                default: fwd_tile(1, panels, K, k0, xs, ldp, cin, j0, P, ldp, last, &pf); break;
                }
            }
            const long complete = c0 + (j0 + 16 * nv < T ? j0 + 16 * nv : T) / W;
            if (complete > scattered) {
                scatter_y(P, ldp, bias, y + n * ySampleStride, d, cout, c0, scattered, complete);
                scattered = complete;
            }
        }
        c0 = c1;
    }
    _mm_sfence();
}

#else
int dro_convt_packed_prefetch = 1;
long dro_convtranspose_forward_packed_scratch(long cin, long cout, long chunkVoxels) { return 1; }
void dro_convtranspose_forward_packed_avx512(const float *x, const float *w, const float *bias, float *y,
                                             dro_conv_dims dims, long cin, long cout, long ySampleStride,
                                             long row0, long row1, long chunkVoxels, float *scratch) {}
long dro_convtranspose_backward_packed_scratch(long cin, long cout, long chunkVoxels) { return 1; }
void dro_convtranspose_backward_packed_avx512(const float *x, const float *w, const float *dy, float *dx,
                                              double *dwTPartial, double *dbPartial, dro_conv_dims dims,
                                              long cin, long cout, long dySampleStride, long row0, long row1,
                                              long chunkVoxels, float *scratch) {}
#endif
