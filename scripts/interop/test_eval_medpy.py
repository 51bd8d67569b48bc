"""dro-eval against MedPy 0.5 (docs/method.md §5) on generated NIfTI pairs.

Pairs are written with nibabel: anisotropic spacing (one case with a rotated affine, so spacing
must come from the affine's column norms), three labels, a one-sided error (a far false-positive
blob, where directed and pooled HD95 differ), a label touching the image border, a label missing
from the prediction (inf) and from both masks (nan).

References, per case and label, from MedPy on the same arrays and the spacing of the affine read
back by nibabel (float32 on disk):
  dice = medpy dc; assd = medpy assd; pooled HD95 = medpy hd95;
  directed HD95 = max of the 95th percentiles of medpy's two directed surface distance lists;
  HD = max of both lists.
MedPy's surface uses binary_erosion with 1-connectivity and border_value=0, i.e. outside the
image is background — the same surface as docs/method.md §5.1.
Tolerances (docs/method.md §5.6): Dice 1e-12 absolute; distances 1e-4 mm + 1e-5 x value.
"""
import csv
import json
import subprocess
import zlib
import struct
import base64
import re

import nibabel as nib
import numpy as np
import pytest
from medpy.metric import binary as medpy_binary

from dro_bin import BIN, needs

DICE_TOL = 1e-12
DIST_ABS_TOL = 1e-4
DIST_REL_TOL = 1e-5
SHAPE = (40, 36, 18)
SPACING = (0.7, 0.9, 2.5)
NSD_TOLERANCE = 1.5  # mm: between the in-plane and through-plane spacings, so the count varies
# medpy.metric.binary.__surface_distances is module-private; fetch it by name.
surface_distances = getattr(medpy_binary, "__surface_distances")


def ellipsoid(shape, centre, radii):
    grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def make_case(rng, kind):
    gt = np.zeros(SHAPE, np.uint8)
    gt[ellipsoid(SHAPE, (20, 18, 9), (12, 10, 5))] = 1
    gt[ellipsoid(SHAPE, (15, 15, 8), (5, 4, 3))] = 2
    gt[ellipsoid(SHAPE, (28, 22, 10), (4, 5, 3))] = 3
    pred = gt.copy()
    # boundary noise: flip random voxels near label 1's surface
    noise = rng.random(SHAPE) < 0.08
    edge = ellipsoid(SHAPE, (20, 18, 9), (13, 11, 6)) ^ ellipsoid(SHAPE, (20, 18, 9), (11, 9, 4))
    pred[noise & edge & (pred == 0)] = 1
    pred[noise & edge & (gt == 1) & (rng.random(SHAPE) < 0.5)] = 0
    pred[np.roll(gt == 2, 1, axis=0) & (pred != 3)] = 2  # shift label 2 by one voxel in x
    if kind == "one_sided":
        pred[ellipsoid(SHAPE, (36, 4, 15), (2, 2, 1.5))] = 3  # far false positive
    if kind == "border":
        gt[0:4, :, 0:3] = 3   # label 3 touches three image faces
        pred[0:5, :, 0:3] = 3
    if kind == "missing":
        pred[pred == 3] = 0   # label 3 absent from the prediction
    if kind == "both_empty":
        gt[gt == 2] = 1
        pred[pred == 2] = 1   # label 2 absent from both
    return gt, pred


def affine_for(kind):
    a = np.diag(list(SPACING) + [1.0])
    if kind == "rotated":
        t = np.deg2rad(30)
        rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
        a[:3, :3] = rot @ np.diag(SPACING)
    a[:3, 3] = [-10.0, 5.0, 2.0]
    return a


KINDS = ["plain", "one_sided", "border", "missing", "both_empty", "rotated"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    rng = np.random.default_rng(2026)
    arrays = {}
    for i, kind in enumerate(KINDS):
        case = f"case_{i:03d}"
        gt, pred = make_case(rng, kind)
        affine = affine_for(kind)
        nib.Nifti1Image(gt, affine).to_filename(str(gt_dir / f"{case}.nii.gz"))
        nib.Nifti1Image(pred, affine).to_filename(str(pred_dir / f"{case}.nii.gz"))
        back = nib.load(str(gt_dir / f"{case}.nii.gz")).affine
        spacing = np.sqrt((back[:3, :3] ** 2).sum(axis=0))
        arrays[case] = (gt, pred, spacing)
    return root, arrays


def run_eval(*args):
    exe = str(BIN / "dro-eval")
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=60)


def as_float(s):
    return float(s)  # float("inf") / float("nan") parse the CSV words


def medpy_reference(gt, pred, spacing):
    if gt.sum() == 0 and pred.sum() == 0:
        return dict(dice=np.nan, hd=np.nan, directed=np.nan, pooled=np.nan, assd=np.nan, nsd=np.nan)
    if gt.sum() == 0 or pred.sum() == 0:
        return dict(dice=0.0, hd=np.inf, directed=np.inf, pooled=np.inf, assd=np.inf, nsd=0.0)
    a = surface_distances(pred, gt, spacing, 1)
    b = surface_distances(gt, pred, spacing, 1)
    return dict(dice=medpy_binary.dc(pred, gt),
                hd=max(a.max(), b.max()),
                directed=max(np.percentile(a, 95), np.percentile(b, 95)),
                pooled=medpy_binary.hd95(pred, gt, voxelspacing=spacing),
                assd=medpy_binary.assd(pred, gt, voxelspacing=spacing),
                nsd=((a <= NSD_TOLERANCE).sum() + (b <= NSD_TOLERANCE).sum()) / (len(a) + len(b)))


def close(ours, ref, tol):
    if np.isnan(ref):
        return np.isnan(ours)
    if np.isinf(ref):
        return ours == ref
    return abs(ours - ref) <= tol(ref)


def dist_tol(v):
    return DIST_ABS_TOL + DIST_REL_TOL * abs(v)


@needs("dro-eval")
def test_matches_medpy(dataset):
    root, arrays = dataset
    worst = {"dice": 0.0, "dist": 0.0}
    modes_checked = 0
    one_sided_gap = 0.0
    for mode in ["directed", "pooled"]:
        out = root / f"{mode}.csv"
        r = run_eval("--pred", root / "pred", "--gt", root / "gt", "--labels", "1,2,3",
                     "--hd95", mode, "--surface-dice", NSD_TOLERANCE,
                     "--csv", out, "--json", root / f"{mode}.json")
        assert r.returncode == 0, r.stderr
        rows = list(csv.DictReader(open(out)))
        assert list(rows[0].keys())[:9] == ["case", "label", "dice", "hd", "hd95", "assd", "n_gt", "n_pred", "empty"]
        assert len(rows) == len(KINDS) * 3
        for row in rows:
            gt, pred, spacing = arrays[row["case"]]
            label = int(row["label"])
            g, p = gt == label, pred == label
            ref = medpy_reference(g, p, spacing)
            assert int(row["n_gt"]) == g.sum() and int(row["n_pred"]) == p.sum()
            expected_empty = {(True, True): "both", (True, False): "gt", (False, True): "pred"}.get(
                (g.sum() == 0, p.sum() == 0), "none")
            assert row["empty"] == expected_empty
            dice = as_float(row["dice"])
            assert close(dice, ref["dice"], lambda v: DICE_TOL), (row, ref)
            # MONAI compute_surface_dice (use_subvoxels=False) counts boundary voxels within the
            # tolerance; its boundary is the same 1-connectivity erosion surface as MedPy's.
            assert close(as_float(row["surface_dice"]), ref["nsd"], lambda v: DICE_TOL), (row, ref)
            for key, ref_key in [("hd", "hd"), ("assd", "assd"), ("hd95", mode)]:
                ours = as_float(row[key])
                assert close(ours, ref[ref_key], dist_tol), (mode, key, row, ref)
                if np.isfinite(ref[ref_key]):
                    worst["dist"] = max(worst["dist"], abs(ours - ref[ref_key]))
            if np.isfinite(ref["dice"]):
                worst["dice"] = max(worst["dice"], abs(dice - ref["dice"]))
            if row["case"] == "case_001" and label == 3:
                one_sided_gap = abs(ref["directed"] - ref["pooled"])
        modes_checked += 1
    assert modes_checked == 2
    # the one-sided error must actually separate the two definitions
    assert one_sided_gap > 1.0
    print(f"worst |dice - medpy| = {worst['dice']:.3e}, worst |distance - medpy| = {worst['dist']:.3e} mm")
    summary = json.load(open(root / "directed.json"))
    assert summary["hd95_mode"] == "directed"
    # The robustness view against numpy on the per-case CSV: finite values only, nan/inf counted.
    rows = list(csv.DictReader(open(root / "directed.csv")))
    for entry in summary["methods"]["pred"]["summaries"]:
        for metric in ["dice", "hd95"]:
            values = np.array([as_float(r[metric]) for r in rows if int(r["label"]) == entry["label"]])
            finite = values[np.isfinite(values)]
            stats = entry[metric]
            assert stats["n"] == len(finite)
            assert stats["nan_excluded"] == np.isnan(values).sum()
            assert stats["inf_excluded"] == np.isinf(values).sum()
            for key, ref in [("mean", np.mean(finite)), ("std", np.std(finite)), ("median", np.median(finite))] + [
                    (f"p{p}", np.percentile(finite, p)) for p in (5, 10, 25, 75, 90, 95)]:
                assert abs(as_float(stats[key]) - ref) <= 1e-12 * max(1.0, abs(ref)), (entry["label"], metric, key)
    assert "Infinity" not in open(root / "directed.json").read()


@needs("dro-eval")
def test_geometry_mismatch_and_one_sided_cases(dataset, tmp_path):
    root, arrays = dataset
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt, pred, _ = arrays["case_000"]
    a = affine_for("plain")
    nib.Nifti1Image(gt, a).to_filename(str(gt_dir / "good.nii.gz"))
    nib.Nifti1Image(pred, a).to_filename(str(pred_dir / "good.nii.gz"))
    shifted = a.copy()
    shifted[0, 3] += 0.01  # 0.01 mm > 1e-4 mm tolerance
    nib.Nifti1Image(gt, a).to_filename(str(gt_dir / "moved.nii.gz"))
    nib.Nifti1Image(pred, shifted).to_filename(str(pred_dir / "moved.nii.gz"))
    nib.Nifti1Image(gt, a).to_filename(str(gt_dir / "nopred.nii.gz"))
    nib.Nifti1Image(pred, a).to_filename(str(pred_dir / "nogt.nii.gz"))
    r = run_eval("--pred", pred_dir, "--gt", gt_dir, "--csv", tmp_path / "o.csv")
    assert r.returncode == 1
    assert "moved" in r.stderr and "affine" in r.stderr
    assert "nopred" in r.stderr
    assert "nogt" in r.stdout
    cases = {row["case"] for row in csv.DictReader(open(tmp_path / "o.csv"))}
    assert cases == {"good"}


def decode_png(data):
    """Minimal independent PNG reader (8-bit RGB, filter 0 rows as our encoder writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + chunk) == crc
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        if kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    return width, height


@needs("dro-eval")
def test_html_report_is_self_contained(dataset, tmp_path):
    root, _ = dataset
    groups = tmp_path / "groups.csv"
    groups.write_text("case,group\n" + "".join(
        f"case_{i:03d},{'abnormal' if i % 2 else 'normal'}\n" for i in range(len(KINDS))))
    r = run_eval("--pred", root / "pred", "--gt", root / "gt", "--groups", groups, "--worst", "2",
                 "--compare", root / "gt", "--surface-dice", "1.0", "--html", tmp_path / "report")
    assert r.returncode == 0, r.stderr
    assert "abnormal" in r.stdout and "Comparison" in r.stdout
    html = (tmp_path / "report" / "index.html").read_text()
    assert "<svg" in html
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(pngs) >= 3
    for b64 in pngs:
        w, h = decode_png(base64.b64decode(b64))
        assert w >= SHAPE[0] and h >= SHAPE[1]


@needs("dro-eval")
def test_help_and_exit_codes(tmp_path):
    r = run_eval("--help")
    assert r.returncode == 0 and "--hd95" in r.stdout and "--surface-dice" in r.stdout
    assert run_eval("--pred", tmp_path).returncode == 64            # --gt missing: usage
    r = run_eval("--pred", tmp_path, "--gt", tmp_path, "--worst", "-1")
    assert r.returncode == 64 and "--worst" in r.stderr
    r = run_eval("--pred", tmp_path / "none.nii.gz", "--gt", tmp_path / "no.nii.gz")
    assert r.returncode == 1 and "no.nii.gz" in r.stderr and r.stderr.count("\n") == 1
