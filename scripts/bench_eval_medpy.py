#!/usr/bin/env python3
"""MedPy reference timing for `dro-bench eval`.

Loads a prediction and a ground-truth NIfTI with nibabel and computes, for each label, MedPy's
dc, hd95 and assd with the ground truth's spacing (column norms of the affine) -- the usual
MedPy evaluation loop. Prints one JSON line: {"load_seconds", "metric_seconds", "seconds",
"labels": {label: {"dice", "hd95", "assd"}}}.

Usage: bench_eval_medpy.py PRED GT --labels 1,2,3
"""
import argparse
import json
import time

import nibabel as nib
import numpy as np
from medpy.metric import binary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pred")
    parser.add_argument("gt")
    parser.add_argument("--labels", required=True, help="comma-separated label values")
    args = parser.parse_args()
    labels = [int(x) for x in args.labels.split(",")]

    t0 = time.perf_counter()
    gt_img = nib.load(args.gt)
    gt = np.asarray(gt_img.dataobj)
    pred = np.asarray(nib.load(args.pred).dataobj)
    spacing = np.sqrt((gt_img.affine[:3, :3] ** 2).sum(axis=0))
    t1 = time.perf_counter()
    out = {}
    for label in labels:
        g, p = gt == label, pred == label
        out[str(label)] = {
            "dice": binary.dc(p, g),
            "hd95": binary.hd95(p, g, voxelspacing=spacing),
            "assd": binary.assd(p, g, voxelspacing=spacing),
        }
    t2 = time.perf_counter()
    print(json.dumps({"load_seconds": t1 - t0, "metric_seconds": t2 - t1, "seconds": t2 - t0,
                      "labels": out}))


if __name__ == "__main__":
    main()
