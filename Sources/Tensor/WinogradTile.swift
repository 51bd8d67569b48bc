#if canImport(Glibc)
import Glibc
#endif

/// Which Winograd tile a stride-1, padding-1 3×3×3 layer runs: F(2,3) (`WinogradConv3d`, 2³
/// outputs per 4³ tile) or F(4,3) (`WinogradF43`, 4³ outputs per 6³ tile, 3.4 instead of 8
/// multiplies and transformed values per output, ~30× F(2,3)'s Float rounding error).
///
/// Rule (`choose`): F(4,3) where the volume is at least `minimumF43Extent` on every axis and
/// Cin·Cout is at most `maximumF43ChannelProduct` (or, given the batch, at most
/// `maximumFewTilesF43ChannelProduct` where the weight gradient runs without accumulators, with
/// DRO_WINOGRAD_TILE_RULE=wide);
/// F(2,3) elsewhere. The error does not limit the
/// channel count: F(4,3)'s error against a Double oracle, max |error| / max |reference|, is
/// 6e-6–4.6e-5 from 16 to 512 summed channels and does not grow with them (a margin ≥ 2.2× to the
/// 1e-4 tolerance of the network checks; ConvAccuracyTests, WinogradF43Tests). Memory does: the
/// weight gradient keeps one 216·Cin·Cout-Float accumulator per worker (and the forward one
/// transformed weight of that size), 113 MB each at 512 → 256, which raised the fetal network's
/// peak by 230 MB. Below 12³ F(4,3) is 2.2–3.4× slower (2 × 2 × 2 tiles or fewer per sample,
/// half-empty 8-tile vectors, and 216·Cout·Cin transformed weights against a few tiles).
/// Figures: docs/performance.md, "Winograd F(4,3)" and "F(4,3) above 128 channels and at 12³".
/// `DRO_WINOGRAD_TILE=f23|f43` forces one tile for every such layer (back-to-back
/// measurements, cross-checks); unset or any other value = the rule.
public enum WinogradTile: String, Sendable, CaseIterable {
    case f23, f43

    /// Environment variable that overrides the rule.
    public static let overrideVariable = "DRO_WINOGRAD_TILE"

    /// The tile forced by `DRO_WINOGRAD_TILE`, if any.
    public static let requested: WinogradTile? = {
        guard let v = getenv(overrideVariable) else { return nil }
        return WinogradTile(rawValue: String(cString: v))
    }()

    /// Smallest D, H and W run on F(4,3) by default: 12 (F(4,3) / F(2,3), fwd + dx + dW, 2 threads,
    /// 2026-12-04: 0.86–0.89 at 12³ for 128 → 128 up to 512 → 256, 0.54–0.63 at 16³ and 24³;
    /// 2.7–2.9 at 6³; docs/performance.md, "F(4,3) above 128 channels and at 12³").
    public static let minimumF43Extent = 12

    /// Largest Cin·Cout run on F(4,3) by default: 256 → 128 (216·Cin·Cout Floats = 28 MB per
    /// weight-gradient accumulator; 256 → 256 and 512 → 256 at 12³ gained only 11–14 % of their
    /// time for 57–113 MB more per worker).
    public static let maximumF43ChannelProduct = 256 * 128

    /// Largest Cin·Cout run on F(4,3) when its weight gradient takes the few-tiles path
    /// (`WinogradFewTilesWeightGradient`: no per-worker 216·Cin·Cout accumulators): 512 → 256,
    /// the widest layer measured and covered by the accuracy tests (ConvAccuracyTests, per-channel
    /// errors to 512 summed channels).
    public static let maximumFewTilesF43ChannelProduct = 512 * 256

    /// True with `DRO_WINOGRAD_TILE_RULE=wide`: `automatic`, given the batch, runs F(4,3) above
    /// `maximumF43ChannelProduct` where the few-tiles weight gradient applies. Off by default:
    /// on the fetal network (96³, batch 2) it made the 12³ layers' fwd + bwd 0.75–0.86× as long
    /// (1 thread, CPU time) but raised the step's peak RSS (2 threads) from 2962 to 3024 MB (F(4,3)'s transformed
    /// weights, 216·Cin·Cout Floats = 113 MB at 512 → 256; docs/performance.md, "Winograd weight
    /// gradient for few tiles"). Read once; settable for tests.
    public nonisolated(unsafe) static var widensWithFewTiles: Bool =
        getenv("DRO_WINOGRAD_TILE_RULE").map { String(cString: $0) } == "wide"

    /// The rule without the override. With `batch` (the layer's), layers above
    /// `maximumF43ChannelProduct` run F(4,3) too where its weight gradient takes the few-tiles
    /// path (`WinogradFewTilesWeightGradient.applies` with F(4,3)'s tiles; the fetal 12³ layers
    /// 256 → 256 and 512 → 256) up to `maximumFewTilesF43ChannelProduct`; without `batch`, or with
    /// DRO_WINOGRAD_SMALL_DW=off, or without DRO_WINOGRAD_TILE_RULE=wide (`widensWithFewTiles`),
    /// the rule before it.
    public static func automatic(cin: Int, cout: Int, d: Int, h: Int, w: Int, batch: Int? = nil) -> WinogradTile {
        guard min(d, h, w) >= minimumF43Extent else { return .f23 }
        if cin * cout <= maximumF43ChannelProduct { return .f43 }
        guard let batch, widensWithFewTiles, cin * cout <= maximumFewTilesF43ChannelProduct else { return .f23 }
        let tiles = batch * ((d + 3) / 4) * ((h + 3) / 4) * ((w + 3) / 4)
        return WinogradFewTilesWeightGradient.applies(tiles: tiles, cin: cin, cout: cout,
                                                      workers: Parallel.defaultThreads) ? .f43 : .f23
    }

    /// The tile this process runs for a layer (the override, else `automatic`).
    public static func choose(cin: Int, cout: Int, d: Int, h: Int, w: Int, batch: Int? = nil) -> WinogradTile {
        requested ?? automatic(cin: cin, cout: cout, d: d, h: h, w: w, batch: batch)
    }
}

/// The three passes of a stride-1, padding-1 3×3×3 layer on this tile's kernel (`WinogradConv3d`
/// or `WinogradF43`, same arguments and conventions), so that callers choosing a tile per layer
/// do not repeat each call for both.
extension WinogradTile {
    /// x: [N, Cin, D, H, W], weight: [Cout, Cin, 3, 3, 3], bias: [Cout] → y. Overwrites y.
    public func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                        workspace: Workspace) {
        switch self {
        case .f23: WinogradConv3d.forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout,
                                          d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout,
                                       d: d, h: h, width: width, workspace: workspace)
        }
    }

    /// dy: [N, Cout, D, H, W] → dx: [N, Cin, D, H, W]. Overwrites dx.
    public func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int, workspace: Workspace) {
        switch self {
        case .f23: WinogradConv3d.backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout,
                                                d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout,
                                             d: d, h: h, width: width, workspace: workspace)
        }
    }

    /// ACCUMULATES dL/dweight into dweight and dL/dbias into dbias (may be nil). `activation`
    /// (F(4,3) only, where `WinogradF43.fusesInputActivation`): x is z, the input its activation.
    public func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, n: Int, cin: Int, cout: Int, d: Int, h: Int,
                               width: Int, workspace: Workspace, activation: WinogradInputActivation? = nil) {
        switch self {
        case .f23:
            precondition(activation == nil, "WinogradTile.f23.backwardWeight: no fused input activation")
            WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin,
                                          cout: cout, d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin,
                                              cout: cout, d: d, h: h, width: width, workspace: workspace,
                                              activation: activation)
        }
    }
}
