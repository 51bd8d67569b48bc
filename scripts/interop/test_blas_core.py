"""OpenBLAS kernel selection at start-up (Tensor/BLASRuntime.swift): when OpenBLAS falls back to its
pre-AVX kernels (e.g. "Prescott" for a CPU it does not know) on a CPU whose /proc/cpuinfo flags
show AVX2, dro-seg's executables set OPENBLAS_CORETYPE and re-execute themselves; a caller's
OPENBLAS_CORETYPE is never overridden; DRO_KEEP_OPENBLAS_CORE=1 keeps OpenBLAS's own choice.

The expected core is derived here from /proc/cpuinfo (independently of the Swift code) and the
observed core is what `openblas_get_corename()` reports in `dro-bench blas --json`.

Run by scripts/test.sh with DRO_BIN = the release bin folder."""
import json
import os
import pathlib
import subprocess

import pytest

from dro_bin import BIN, needs

ROOT = pathlib.Path(__file__).resolve().parents[2]
DRO_BENCH = BIN / "dro-bench"

pytestmark = needs("dro-bench")

# OpenBLAS 0.3.x x86-64 kernel families older than AVX (driver/others/dynamic.c corename[]).
PRE_AVX = {"unknown", "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2",
           "penryn", "dunnington", "nehalem"}
VARIABLES = ("OPENBLAS_CORETYPE", "DRO_KEEP_OPENBLAS_CORE", "DRO_BLAS_REEXEC", "DRO_PORTABLE_KERNELS", "DRO_BLAS_THREADS",
             "DRO_CONVT", "DRO_HEAD", "DRO_CONV1CH", "DRO_WINOGRAD_TILE", "DRO_WINOGRAD_GEMM", "DRO_WINOGRAD_TRANSFORMS",
             "DRO_STRIDE2_WINOGRAD")
# A small sgemm keeps each run well under a second even with the SSE3 kernels.
SIZE = 256


def cpu_flags():
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def run(args, **extra_env):
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(extra_env)
    return subprocess.run([str(DRO_BENCH), *args], capture_output=True, text=True, env=env, timeout=120)


def core_report(**extra_env):
    r = run(["blas", "--json", "--size", str(SIZE), "--threads", "1"], **extra_env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    report = json.loads(r.stdout)
    # The arguments survive the re-execution.
    assert report["sgemm_size"] == SIZE and report["threads"] == 1
    assert report["sgemm_gflops"] > 0
    return report


def test_vector_kernels_when_cpu_has_avx2():
    flags = cpu_flags()
    if not {"avx2", "fma"} <= flags:
        pytest.skip("CPU without AVX2+FMA: OpenBLAS's own choice is kept")
    kept = core_report(DRO_KEEP_OPENBLAS_CORE="1")
    auto = core_report()
    assert auto["openblas_core"].lower() not in PRE_AVX, auto
    if kept["openblas_core"].lower() in PRE_AVX:
        # OpenBLAS fell back: the executable must have chosen the core OpenBLAS's own feature
        # tests would pick for these flags.
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            expected = "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
        else:
            expected = "Haswell"
        assert auto["core_selection"] == "automatic", auto
        assert auto["replaced_core"] == kept["openblas_core"], (auto, kept)
        assert auto["openblas_core"].lower() == expected.lower(), (auto, expected)
    else:
        # OpenBLAS knows this CPU: nothing to do, nothing re-executed.
        assert auto["core_selection"] == "openblas", auto
        assert auto["openblas_core"] == kept["openblas_core"]


def test_pinned_core_is_never_overridden():
    report = core_report(OPENBLAS_CORETYPE="Haswell")
    assert report["openblas_core"] == "Haswell", report
    assert report["core_selection"] == "environment"
    assert "replaced_core" not in report


def test_opt_out_keeps_openblas_choice():
    report = core_report(DRO_KEEP_OPENBLAS_CORE="1")
    assert report["core_selection"] == "openblas", report
    assert "replaced_core" not in report


def test_usage_errors_and_help_unchanged_by_reexecution():
    # Same exit status and one copy of the output whether or not the binary re-executed itself.
    for extra in ({}, {"DRO_KEEP_OPENBLAS_CORE": "1"}):
        r = run(["blas", "--size", "0"], **extra)
        assert r.returncode == 64, (extra, r)
        assert r.stdout == ""
        assert r.stderr.count("--size must be ≥ 1") == 1, r.stderr
        h = run(["--help"], **extra)
        assert h.returncode == 0
        assert h.stdout.count("USAGE: dro-bench") == 1, h.stdout


def test_c_kernels_follow_cpu_flags_and_portable_switch():
    """The hand-written C kernels (CKernels) run only where /proc/cpuinfo shows their instruction
    set, and DRO_PORTABLE_KERNELS=1 turns them all off. Expected values derived here from the
    flags; the Winograd GEMM choice also depends on OpenBLAS's core (OpenBLAS keeps the forward
    and input-gradient GEMMs when it runs its AVX-512 kernels, whose small-matrix path was as
    fast as ours; the weight gradient runs ours with AVX-512)."""
    flags = cpu_flags()
    avx2 = {"avx2", "fma"} <= flags
    avx512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags
    report = core_report()
    kernels = report["kernels"]
    assert kernels["conv_kernels"] == ("avx2" if avx2 else "swift")
    assert kernels["winograd_transforms"] == ("avx512" if avx512 else "avx2" if avx2 else "swift")
    assert kernels["winograd_f43_transforms"] == ("avx512" if avx512 else "avx2" if avx2 else "swift")
    openblas_avx512 = report["openblas_core"].lower() in {"skylakex", "cooperlake", "sapphirerapids"}
    # The Winograd GEMMs run the package's AVX-512 kernels wherever AVX-512 exists (forward and
    # input gradient with packed weights, weight gradient with outer products), else its AVX2
    # kernels unless OpenBLAS runs AVX-512 kernels.
    assert kernels["winograd_gemm"] == ("avx512" if avx512 else "avx2" if avx2 and not openblas_avx512 else "blas")
    assert kernels["winograd_gemm_weight"] == kernels["winograd_gemm"]
    if avx2:
        pinned = core_report(OPENBLAS_CORETYPE="Haswell")["kernels"]
        assert pinned["winograd_gemm"] == ("avx512" if avx512 else "avx2")

    # The Winograd tile (F(2,3) or F(4,3)) is chosen per layer, not by the CPU; DRO_WINOGRAD_TILE
    # forces one.
    assert kernels["winograd_tile"].startswith("f43 at"), kernels
    for tile in ("f23", "f43"):
        assert core_report(DRO_WINOGRAD_TILE=tile)["kernels"]["winograd_tile"] == tile

    # The direct transposed-conv, 1×1-head and first-layer weight-gradient kernels follow AVX-512
    # (else the GEMM paths / the AVX2 kernel); GEMMs are split over our workers unless
    # DRO_BLAS_THREADS=openblas hands them to OpenBLAS's threads.
    assert kernels["conv_transpose"] == ("avx512" if avx512 else "gemm")
    assert kernels["pointwise_head"] == ("avx512" if avx512 else "gemm")
    assert kernels["first_layer_weight_gradient"] == ("avx512" if avx512 else "avx2" if avx2 else "swift")
    assert kernels["gemm_threads"] == "workers"
    assert core_report(DRO_BLAS_THREADS="openblas")["kernels"]["gemm_threads"] == "openblas"

    # Stride-2 layers take the polyphase Winograd algorithm by a per-layer rule on AVX-512 CPUs
    # only; DRO_STRIDE2_WINOGRAD=off|on overrides it.
    assert kernels["stride2_winograd"] == ("at >= 128 tiles, >= 90% full, 343*Cin*Cout <= 12582912" if avx512
                                           else "off (no AVX-512)"), kernels
    for mode in ("off", "on"):
        assert core_report(DRO_STRIDE2_WINOGRAD=mode)["kernels"]["stride2_winograd"] == mode

    portable = core_report(DRO_PORTABLE_KERNELS="1")["kernels"]
    assert portable == {"conv_kernels": "swift", "winograd_transforms": "swift", "winograd_gemm": "blas",
                        "winograd_gemm_weight": "blas",
                        "winograd_f43_transforms": "swift", "winograd_tile": kernels["winograd_tile"],
                        "conv_transpose": "gemm", "pointwise_head": "gemm",
                        "first_layer_weight_gradient": "swift", "gemm_threads": "workers",
                        "stride2_winograd": "off (no AVX-512)"}
