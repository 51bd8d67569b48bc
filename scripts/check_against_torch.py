#!/usr/bin/env python3
"""Cross-check dro-seg's U-Net against PyTorch (outside CI; needs `pip install torch`).

    swift build -c release --product dro-bench
    .build/release/dro-bench unet --dump /tmp/unet-dump
    python3 scripts/check_against_torch.py /tmp/unet-dump

`dro-bench unet --dump DIR --anisotropic` writes the per-axis variant (model.kernel_sizes /
model.pool_strides recorded in manifest.json); the same check applies.

Builds the same network in PyTorch (scripts/torch_unet.py), loads dro-seg's parameters and input,
runs forward + Dice+CE + backward in float64 (the reference) and float32, and compares dro-seg's
logits, loss and every parameter gradient: relative error = max|ours − ref| / max|ref| per tensor,
required ≤ 1e-4 (float32 vs float64 through ~15 layers lands near 1e-6; 1e-4 leaves room for
instance-norm cancellation). Exits 1 on failure.

LeakyReLU is not differentiable at 0: with ~10⁵–10⁶ pre-activations per run, a few lie within
float32 rounding of 0 and the two implementations may take different branches there, changing
one voxel's gradient (≈1e-2 of a weight gradient on this small network). The torch side therefore
takes each voxel's branch from the sign of dro-seg's block output (activations.f32) and reports
how many voxels that overrides.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_unet import UNet, dice_ce_loss  # noqa: E402

TOLERANCE = 1e-4


def rel(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a - b).max())


def main(d):
    m = json.load(open(os.path.join(d, "manifest.json")))
    n, sp, cin, classes = m["batch"], m["spatial"], m["in_channels"], m["classes"]
    params = np.fromfile(os.path.join(d, "params.f32"), dtype="<f4")
    grads = np.fromfile(os.path.join(d, "grads.f32"), dtype="<f4")
    x = np.fromfile(os.path.join(d, "input.f32"), dtype="<f4").reshape(n, cin, *sp)
    y = np.fromfile(os.path.join(d, "labels.i32"), dtype="<i4").reshape(n, *sp)
    logits_ours = np.fromfile(os.path.join(d, "logits.f32"), dtype="<f4").reshape(n, classes, *sp)

    results = {}
    for dtype in (torch.float64, torch.float32):
        net = UNet(cin, classes, m["features"], m["convs_per_level"], m["norm_eps"], m["leaky_slope"],
                   m.get("kernel_sizes"), m.get("pool_strides")).to(dtype)
        named = dict(net.named_parameters())
        assert set(named) == {p["name"] for p in m["parameters"]}, "parameter names differ"
        with torch.no_grad():
            for p in m["parameters"]:
                cnt = int(np.prod(p["shape"]))
                named[p["name"]].copy_(torch.from_numpy(params[p["offset"]:p["offset"] + cnt].reshape(p["shape"])))
        acts = np.fromfile(os.path.join(d, "activations.f32"), dtype="<f4")
        modules = dict(net.named_modules())
        for b in m["block_outputs"]:
            blk = modules[b["name"]]
            shape = (n, blk.conv.out_channels, -1)
            blk.branch = torch.from_numpy(acts[b["offset"]:b["offset"] + b["count"]].copy()).reshape(shape)
        logits = net(torch.from_numpy(x).to(dtype))
        flips = sum(mod.disagreements for mod in net.modules() if hasattr(mod, "disagreements"))
        loss, per_sample = dice_ce_loss(logits, torch.from_numpy(y), m["smooth"])
        loss.backward()
        results[dtype] = (logits.detach().numpy(), float(loss.detach()), per_sample.detach().numpy(),
                          {k: v.grad.numpy() for k, v in named.items()})
        print(f"torch {str(dtype)[6:]}: {flips} voxel(s) whose LeakyReLU branch differs from dro-seg's "
              "(pre-activation within rounding of 0); dro-seg's branch used")

    ref_logits, ref_loss, ref_per, ref_grads = results[torch.float64]
    t32_logits, t32_loss, _, t32_grads = results[torch.float32]
    rows = [("logits", rel(logits_ours, ref_logits), rel(t32_logits, ref_logits))]
    rows.append(("loss", abs(m["loss"] - ref_loss) / abs(ref_loss), abs(t32_loss - ref_loss) / abs(ref_loss)))
    rows.append(("per-sample loss", rel(m["per_sample_loss"], ref_per), float("nan")))
    for p in m["parameters"]:
        cnt = int(np.prod(p["shape"]))
        ours = grads[p["offset"]:p["offset"] + cnt]
        ref = ref_grads[p["name"]]
        if np.abs(ref).max() < 1e-9 * max(np.abs(g).max() for g in ref_grads.values()):
            # Conv biases feeding an instance norm: exact zero gradient; compare on the global scale.
            scale = max(np.abs(g).max() for g in ref_grads.values())
            rows.append(("grad " + p["name"] + " (zero)", float(np.abs(ours).max() / scale),
                         float(np.abs(t32_grads[p["name"]]).max() / scale)))
        else:
            rows.append(("grad " + p["name"], rel(ours, ref), rel(t32_grads[p["name"]], ref)))
    worst = max(r[1] for r in rows)
    print(f"{'tensor':45s} {'dro-seg vs torch f64':>22s} {'torch f32 vs f64':>18s}")
    for name, e, e32 in rows:
        print(f"{name:45s} {e:22.2e} {e32:18.2e}")
    print(f"loss: dro-seg {m['loss']:.9f}  torch f64 {ref_loss:.9f}")
    print(f"worst relative error {worst:.2e} (tolerance {TOLERANCE:g}) over {len(rows)} tensors: "
          + ("PASS" if worst <= TOLERANCE else "FAIL"))
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: check_against_torch.py DUMP_DIR", file=sys.stderr)
        sys.exit(64)
    sys.exit(main(sys.argv[1]))
