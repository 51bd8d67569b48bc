"""Interoperability of dro-seg's NIfTI module with nibabel (the reference implementation).

Direction 1: files written by nibabel (every stored datatype, scaling, qform-only, sform+qform,
no xform (pixdim fallback), 4-D, .nii / .nii.gz, big-endian, NIfTI-2, .hdr/.img pair) are read
by `dro-inspect --json`; statistics must match numpy on nibabel's get_fdata() and the affine
must match nibabel's img.affine.
Direction 2: files written by dro-seg (`dro-inspect IN --write-copy OUT [--datatype T]`, which
goes through NIfTIImage.like / converted and write) are read by nibabel: same format version
(NIfTI-2 stays NIfTI-2, its float64 geometry bit for bit), data, affine, codes, pixdim, units
and header extensions as the input.
Also: dro-inspect's --help and exit codes (0 ok, 1 any file failed, 64 usage).

Tolerances (why):
- affine: atol 1e-9. Both sides evaluate the same stored float32 (NIfTI-1) or float64 (NIfTI-2)
  fields in double precision; only the qform path differs in operation order (nibabel uses
  long double), which costs ~1e-15. Evaluating in float32 anywhere would show up at ~1e-7.
- min, max, count, nan_count: exact (same double formula slope * stored + inter per voxel).
- sum, mean: rtol 1e-12 (numpy sums pairwise, dro-inspect sequentially; both in float64 on
  at most ~10^4 values of magnitude <= 1e4, so the order changes only the last few ulps).

Environment: DRO_BIN = directory with the release dro-inspect binary.
"""
import gzip
import json
import os
import subprocess

import nibabel as nib
import numpy as np
import pytest

from dro_bin import BIN, needs

INSPECT = str(BIN / "dro-inspect")
AFFINE_ATOL = 1e-9
SUM_RTOL = 1e-12
SHAPE = (7, 6, 5)
# An oblique affine with shear-free rotation, non-cubic voxels and an offset.
ROT = np.array([[0.0, -1.0, 0.0], [0.8, 0.0, 0.6], [-0.6, 0.0, 0.8]])
AFFINE = np.eye(4)
AFFINE[:3, :3] = ROT @ np.diag([0.75, 1.25, 2.0])
AFFINE[:3, 3] = [-12.5, 30.0, 4.25]

pytestmark = needs("dro-inspect")


def run(*args):
    return subprocess.run([INSPECT, *map(str, args)], capture_output=True, text=True, timeout=60)


def inspect_json(path):
    r = run("--json", path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def numpy_stats(img):
    d = np.asarray(img.get_fdata(dtype=np.float64)).ravel(order="F")
    fin = d[np.isfinite(d)]
    return {"count": d.size, "nan_count": int(np.isnan(d).sum()),
            "min": float(fin.min()), "max": float(fin.max()), "sum": float(fin.sum()), "mean": float(fin.mean())}


def assert_matches_nibabel(path, fmt="nifti1"):
    img = nib.load(str(path))
    got = inspect_json(path)
    want = numpy_stats(img)
    assert got["format"] == fmt
    assert got["shape"] == list(img.shape)
    assert got["datatype"] == int(img.header["datatype"])
    assert got["qform_code"] == int(img.header["qform_code"])
    assert got["sform_code"] == int(img.header["sform_code"])
    np.testing.assert_allclose(np.array(got["affine"]), img.affine, rtol=0, atol=AFFINE_ATOL)
    np.testing.assert_array_equal(np.array(got["pixdim"]), img.header["pixdim"].astype(np.float64))
    s = got["stats"]
    for key in ("count", "nan_count", "min", "max"):
        assert s[key] == want[key], key
    for key in ("sum", "mean"):
        assert s[key] == pytest.approx(want[key], rel=SUM_RTOL, abs=1e-9), key
    return got, img


def sample(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        lo, hi = max(info.min, -30000), min(info.max, 30000)
        a = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
        a.flat[0], a.flat[-1] = info.min, info.max if info.bits <= 32 else 2**40
        return a
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    a.flat[3] = np.nan
    a.flat[5] = np.inf
    return a


DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_every_datatype_written_by_nibabel(tmp_path, dtype, ext):
    img = nib.Nifti1Image(sample(dtype), AFFINE, dtype=dtype)
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / f"v{ext}"
    nib.save(img, path)
    assert_matches_nibabel(path)


def set_scaling(path, slope, inter, gz_path):
    """Patches scl_slope/scl_inter (NIfTI-1 offsets 112/116, float32 little-endian) into a
    .nii written by nibabel (its writer chooses its own scaling) and gzips it to gz_path."""
    raw = bytearray(open(path, "rb").read())
    raw[112:120] = np.array([slope, inter], dtype="<f4").tobytes()
    with gzip.open(gz_path, "wb") as f:
        f.write(bytes(raw))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_scaling(tmp_path, dtype):
    nib.save(nib.Nifti1Image(sample(dtype), AFFINE, dtype=dtype), tmp_path / "raw.nii")
    path = tmp_path / "scaled.nii.gz"
    set_scaling(tmp_path / "raw.nii", 0.37, -12.5, path)
    got, back = assert_matches_nibabel(path)
    # nibabel moves the scaling from the loaded header into the array proxy.
    slope, inter = back.dataobj.slope, back.dataobj.inter
    assert slope != 1
    assert got["scl_slope"] == pytest.approx(slope) and got["scl_inter"] == pytest.approx(inter)


@pytest.mark.parametrize("qfac", [1, -1])
def test_qform_only(tmp_path, qfac):
    affine = AFFINE.copy()
    affine[:3, 2] *= qfac  # qfac -1: a left-handed affine
    img = nib.Nifti1Image(sample(np.int16), None)
    img.set_qform(affine, code=1)
    img.set_sform(None, code=0)
    nib.save(img, tmp_path / "q.nii")
    got, back = assert_matches_nibabel(tmp_path / "q.nii")
    assert back.header["pixdim"][0] == qfac
    assert got["qform_code"] == 1 and got["sform_code"] == 0
    # The text report's axis letters agree with nibabel's aff2axcodes.
    text = run(tmp_path / "q.nii").stdout
    assert "axes " + "".join(nib.aff2axcodes(back.affine)) + ")" in text, text


def test_sform_and_different_qform(tmp_path):
    img = nib.Nifti1Image(sample(np.float32), None)
    img.set_qform(np.diag([2.0, 2.0, 2.0, 1.0]), code=1)
    img.set_sform(AFFINE, code=4)
    nib.save(img, tmp_path / "sq.nii.gz")
    got, _ = assert_matches_nibabel(tmp_path / "sq.nii.gz")
    assert got["sform_code"] == 4


@pytest.mark.parametrize("shape", [(7, 6), (7, 6, 5)])
def test_no_xform_pixdim_fallback(tmp_path, shape):
    img = nib.Nifti1Image(sample(np.float32, shape=shape), None)
    img.header.set_zooms((0.5, 3.0, 1.5)[: len(shape)])
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)
    nib.save(img, tmp_path / "base.nii")
    got, back = assert_matches_nibabel(tmp_path / "base.nii")
    assert back.affine[0, 0] < 0 and back.affine[0, 3] != 0  # centred, x flipped


def test_four_dimensional(tmp_path):
    img = nib.Nifti1Image(sample(np.float32, shape=(6, 5, 4, 3)), AFFINE)
    img.header.set_zooms((0.75, 1.25, 2.0, 2.5))
    nib.save(img, tmp_path / "t.nii.gz")
    got, _ = assert_matches_nibabel(tmp_path / "t.nii.gz")
    assert got["shape"] == [6, 5, 4, 3]


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_big_endian(tmp_path, dtype):
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(sample(dtype).astype(np.dtype(dtype).newbyteorder(">")), AFFINE, header=hdr)
    img.header.set_slope_inter(1.5, 2.0) if np.issubdtype(dtype, np.integer) else None
    nib.save(img, tmp_path / "be.nii")
    with open(tmp_path / "be.nii", "rb") as f:
        assert f.read(4) == (348).to_bytes(4, "big")
    assert_matches_nibabel(tmp_path / "be.nii")


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_nifti2(tmp_path, ext):
    img = nib.Nifti2Image(sample(np.float64), AFFINE)
    img.set_qform(AFFINE, code=2)
    nib.save(img, tmp_path / f"n2{ext}")
    assert_matches_nibabel(tmp_path / f"n2{ext}", fmt="nifti2")


@pytest.mark.parametrize("opened", ["pair.hdr", "pair.img"])
def test_hdr_img_pair(tmp_path, opened):
    nib.save(nib.Nifti1Pair(sample(np.int16), AFFINE), tmp_path / "pair.img")
    assert_matches_nibabel(tmp_path / opened)


# ---- Direction 2: written by dro-seg, read by nibabel -------------------------------------

def write_copy(src, dst, *extra):
    r = run(src, "--write-copy", dst, *extra)
    assert r.returncode == 0, r.stderr
    return nib.load(str(dst))


def stored_header(path):
    """(format, vox_offset) from the file's own bytes (nibabel's loaded header no longer holds
    the stored vox_offset)."""
    raw = (gzip.open if str(path).endswith(".gz") else open)(path, "rb").read(544)
    if raw[0:4] == (348).to_bytes(4, "little"):
        assert raw[344:348] == b"n+1\0"
        return "nifti1", int(np.frombuffer(raw[108:112], "<f4")[0])
    assert raw[0:4] == (540).to_bytes(4, "little") and raw[4:12] == b"n+2\0\r\n\x1a\n"
    return "nifti2", int(np.frombuffer(raw[168:176], "<i8")[0])


def assert_same_geometry(out, ref):
    """Format version, codes, units, pixdim, qform/sform parameters and extensions copied from
    `ref`, exactly (a NIfTI-2 source keeps its float64 fields); little-endian, vox_offset = header
    + extender + extensions."""
    fmt, vox_offset = stored_header(out.get_filename())
    assert fmt == ("nifti2" if isinstance(ref, nib.Nifti2Image) else "nifti1")
    assert isinstance(out, nib.Nifti2Image) == (fmt == "nifti2")
    exts = list(ref.header.extensions)
    assert vox_offset == (540 if fmt == "nifti2" else 348) + 4 + sum(e.get_sizeondisk() for e in exts)
    assert [(e.code, e.content) for e in out.header.extensions] == [(e.code, e.content) for e in exts]
    h, r = out.header, ref.header
    for key in ("qform_code", "sform_code", "xyzt_units"):
        assert int(h[key]) == int(r[key]), key
    keys = ("pixdim", "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z",
            "srow_x", "srow_y", "srow_z")
    for key in keys:
        np.testing.assert_array_equal(np.asarray(h[key], dtype=np.float64), np.asarray(r[key], dtype=np.float64), err_msg=key)
    np.testing.assert_array_equal(out.affine, ref.affine)


@pytest.mark.parametrize("datatype,dtype", [("float32", np.float32), ("uint8", np.uint8),
                                            ("int16", np.int16), ("uint16", np.uint16)])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_dro_seg_writes_what_nibabel_reads(tmp_path, datatype, dtype, ext):
    ref = nib.Nifti1Image(sample(dtype), None, dtype=dtype)
    ref.set_qform(AFFINE, code=1)
    ref.set_sform(AFFINE @ np.diag([1, 1, 1, 1.0]) + np.array([[0, 0, 0, 1.0]] * 3 + [[0, 0, 0, 0]]), code=2)
    ref.header.set_xyzt_units("mm", "sec")
    nib.save(ref, tmp_path / "in.nii.gz")
    ref = nib.load(tmp_path / "in.nii.gz")
    out = write_copy(tmp_path / "in.nii.gz", tmp_path / f"out{ext}", "--datatype", datatype)
    assert out.get_data_dtype() == np.dtype(dtype)
    np.testing.assert_array_equal(out.get_fdata(), ref.get_fdata())
    assert_same_geometry(out, ref)


def test_dro_seg_labels_choose_uint8_or_uint16(tmp_path):
    for hi, dtype in [(7, np.uint8), (300, np.uint16)]:
        labels = np.random.default_rng(hi).integers(0, hi, size=SHAPE, endpoint=True).astype(np.int32)
        ref = nib.Nifti1Image(labels, AFFINE, dtype=np.int32)
        nib.save(ref, tmp_path / "lab.nii.gz")
        out = write_copy(tmp_path / "lab.nii.gz", tmp_path / "seg.nii.gz", "--datatype", "labels")
        assert out.get_data_dtype() == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(out.dataobj), labels)
        slope, inter = out.header.get_slope_inter()
        assert slope in (None, 1.0) and inter in (None, 0.0)
        assert_same_geometry(out, nib.load(tmp_path / "lab.nii.gz"))


def test_dro_seg_copies_scaled_sources(tmp_path):
    img = nib.Nifti1Image(sample(np.int16), AFFINE, dtype=np.int16)
    img.header.set_slope_inter(0.5, 10)
    nib.save(img, tmp_path / "s.nii")
    ref = nib.load(tmp_path / "s.nii")
    out = write_copy(tmp_path / "s.nii", tmp_path / "f.nii.gz", "--datatype", "float32")
    np.testing.assert_array_equal(out.get_fdata(), ref.get_fdata().astype(np.float32))
    assert_same_geometry(out, ref)



# Geometry float32 cannot hold (0.1, 1/3, 2.2, a 9-digit offset): a float32 detour would show.
AFFINE64 = np.array([[0.1, 0.01, 0.0, -12.345678901], [0.0, 1.0 / 3, 0.0, 7.1], [0.0, 0.0, 2.2, 0.3], [0, 0, 0, 1]])


def with_extensions(img):
    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"dro-seg interop comment"))
    img.header.extensions.append(nib.nifti1.Nifti1Extension(4, b"<?xml version='1.0' ?><AFNI_attributes/>"))
    img.header.extensions.append(nib.nifti1.Nifti1Extension(40, bytes(range(1, 38))))
    return img


@pytest.mark.parametrize("datatype", ["same", "labels", "float32", "int32"])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_nifti2_stays_nifti2_with_float64_geometry_and_extensions(tmp_path, datatype, ext):
    labels = np.random.default_rng(2).integers(0, 5, size=SHAPE).astype(np.int16)
    src = with_extensions(nib.Nifti2Image(labels, None, dtype=np.int16))
    src.set_qform(AFFINE64 @ np.diag([1, 1, -1, 1.0]), code=1)
    src.set_sform(AFFINE64, code=2)
    src.header.set_xyzt_units("mm", "sec")
    nib.save(src, tmp_path / f"src{ext}")
    ref = nib.load(tmp_path / f"src{ext}")
    assert isinstance(ref, nib.Nifti2Image) and len(ref.header.extensions) == 3
    np.testing.assert_array_equal(ref.affine, AFFINE64)
    got = inspect_json(tmp_path / f"src{ext}")
    assert got["extensions"] == [{"code": e.code, "esize": e.get_sizeondisk()} for e in ref.header.extensions]
    out = write_copy(tmp_path / f"src{ext}", tmp_path / f"out{ext}", "--datatype", datatype)
    assert_same_geometry(out, ref)
    np.testing.assert_array_equal(out.get_fdata(), ref.get_fdata())
    # And back through dro-seg once more: a second copy is byte-identical to the first.
    write_copy(tmp_path / f"out{ext}", tmp_path / f"again{ext}")
    if datatype == "same":
        open_ = gzip.open if ext == ".nii.gz" else open
        assert open_(tmp_path / f"again{ext}", "rb").read() == open_(tmp_path / f"out{ext}", "rb").read()


def test_nifti1_extensions_survive(tmp_path):
    src = with_extensions(nib.Nifti1Image(sample(np.float32), AFFINE))
    nib.save(src, tmp_path / "e.nii.gz")
    ref = nib.load(tmp_path / "e.nii.gz")
    out = write_copy(tmp_path / "e.nii.gz", tmp_path / "o.nii", "--datatype", "float64")
    assert_same_geometry(out, ref)
    np.testing.assert_array_equal(out.get_fdata(), ref.get_fdata())


def test_nifti2_beyond_nifti1_dims_is_written(tmp_path):
    """40000 voxels along x do not fit NIfTI-1's int16 dims: a NIfTI-2 source is written as
    NIfTI-2 (before, the copy failed at write time)."""
    src = nib.Nifti2Image(np.arange(40000 * 2, dtype=np.float32).reshape(40000, 2, 1), AFFINE64)
    nib.save(src, tmp_path / "wide.nii.gz")
    out = write_copy(tmp_path / "wide.nii.gz", tmp_path / "copy.nii.gz", "--datatype", "labels")
    assert out.shape == (40000, 2, 1) and isinstance(out, nib.Nifti2Image)
    np.testing.assert_array_equal(np.asarray(out.dataobj), np.asarray(src.dataobj))
    assert out.get_data_dtype() == np.dtype(np.int32)


def test_gzip_level_option(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((40, 40, 40), np.float32), AFFINE), tmp_path / "z.nii")
    run(tmp_path / "z.nii", "--write-copy", tmp_path / "l1.nii.gz")
    run(tmp_path / "z.nii", "--write-copy", tmp_path / "l9.nii.gz", "--gzip-level", "9")
    assert os.path.getsize(tmp_path / "l9.nii.gz") < os.path.getsize(tmp_path / "l1.nii.gz")
    assert nib.load(tmp_path / "l9.nii.gz").get_fdata().sum() == 0


# ---- CLI contract ---------------------------------------------------------------------------

def test_help_and_usage_errors(tmp_path):
    r = run("--help")
    assert r.returncode == 0
    for word in ("--json", "--write-copy", "--datatype", "Exit status"):
        assert word in r.stdout
    assert run().returncode == 64
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), AFFINE), tmp_path / "a.nii")
    assert run(tmp_path / "a.nii", "--write-copy", tmp_path / "b.nii", "--datatype", "rgb").returncode == 64
    assert run(tmp_path / "a.nii", tmp_path / "a.nii", "--write-copy", tmp_path / "b.nii").returncode == 64
    assert run(tmp_path / "a.nii", "--gzip-level", "11", "--write-copy", tmp_path / "b.nii.gz").returncode == 64
    assert run(tmp_path / "a.nii", "--write-copy", tmp_path / "b.img").returncode == 64
    assert run(tmp_path / "a.nii", "--datatype", "uint8").returncode == 64  # only with --write-copy


def test_failed_file_exit_1_others_still_printed(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), np.float32), AFFINE), tmp_path / "good.nii.gz")
    (tmp_path / "bad.nii").write_bytes(b"\x00" * 400)
    r = run("--json", tmp_path / "bad.nii", tmp_path / "good.nii.gz", tmp_path / "missing.nii")
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["stats"]["sum"] == 27
    err = r.stderr.strip().splitlines()
    assert len(err) == 2
    assert "bad.nii" in err[0] and "sizeof_hdr" in err[0]
    assert "missing.nii" in err[1]
    r = run(tmp_path / "good.nii.gz")
    assert r.returncode == 0 and "good.nii.gz" in r.stdout and "sform_code" in r.stdout
