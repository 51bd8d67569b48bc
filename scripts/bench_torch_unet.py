#!/usr/bin/env python3
"""Time the reference U-Net (docs/method.md §4) in PyTorch CPU — the comparison for `dro-bench unet`.
Run both back to back on the same machine and compare ratios (outside CI; needs torch).

    python3 scripts/bench_torch_unet.py [--threads 2] [--steps 10] [--infer] [--json]

Training step = forward + Dice+CE + backward + SGD(lr 0.01, momentum 0.99, Nesterov, wd 3e-5),
batch 2, patch 64³, median over --steps after 2 warm-up steps. --infer: sliding window over a
96×112×96 volume, 64³ windows, 50 % overlap, Gaussian σ = patch/8 (same rule as dro-seg's
SlidingWindow), batch 1. Peak RSS from getrusage (process-wide: run --infer alone for inference RSS).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_unet import UNet, dice_ce_loss  # noqa: E402


def starts(size, patch, overlap=0.5):
    if size <= patch:
        return [0]
    n = math.ceil((size - patch) / (patch * (1 - overlap))) + 1
    step = (size - patch) / (n - 1)
    return [int(round(step * i)) for i in range(n)]


def gaussian(patch, sigma_scale=1 / 8):
    axes = [np.exp(-((np.arange(p) - p // 2) ** 2) / (2 * (sigma_scale * p) ** 2)) for p in patch]
    return torch.from_numpy(np.einsum("i,j,k->ijk", *axes).astype(np.float32))


def sliding_window(net, vol, patch, classes):
    _, D, H, W = vol.shape
    out = torch.zeros(classes, D, H, W)
    norm = torch.zeros(D, H, W)
    g = gaussian(patch)
    with torch.no_grad():
        for z in starts(D, patch[0]):
            for y in starts(H, patch[1]):
                for x in starts(W, patch[2]):
                    win = vol[None, :, z:z + patch[0], y:y + patch[1], x:x + patch[2]]
                    out[:, z:z + patch[0], y:y + patch[1], x:x + patch[2]] += net(win)[0] * g
                    norm[z:z + patch[0], y:y + patch[1], x:x + patch[2]] += g
    return out / norm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--features", default="16,32,64,128")
    ap.add_argument("--infer", action="store_true", help="time sliding-window inference instead of training")
    ap.add_argument("--infer-runs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    feats = [int(f) for f in a.features.split(",")]
    classes = 4
    net = UNet(1, classes, feats)
    res = {"threads": a.threads, "batch": a.batch, "patch": [a.patch] * 3, "features": feats,
           "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available()}
    if not a.infer:
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)
        x = torch.rand(a.batch, 1, a.patch, a.patch, a.patch) * 2 - 1
        y = torch.randint(0, classes, (a.batch, a.patch, a.patch, a.patch))
        times = []
        for step in range(2 + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss, _ = dice_ce_loss(net(x), y)
            loss.backward()
            opt.step()
            if step >= 2:
                times.append(time.perf_counter() - t0)
        res["step_seconds"] = times
        res["step_seconds_median"] = float(np.median(times))
    else:
        net.eval()
        vol = torch.rand(1, 96, 112, 96) * 2 - 1
        times = []
        for _ in range(a.infer_runs):
            t0 = time.perf_counter()
            sliding_window(net, vol, [a.patch] * 3, classes)
            times.append(time.perf_counter() - t0)
        res["infer_seconds"] = times
        res["infer_seconds_median"] = float(np.median(times))
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        for k, v in res.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
