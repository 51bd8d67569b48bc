#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: the Swift test targets in a release build
# with testing enabled (numeric tests are 10-50x slower in debug), the NIfTI tests again in a
# debug (checked) build, then the interop checks against nibabel and MedPy, which drive the
# release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

swift build -c release -Xswiftc -enable-testing
swift test -c release -Xswiftc -enable-testing

# The NIfTI tests and every mutation fuzzer (NIfTI, checkpoint, case cache, config: >= 10^4
# mutated inputs each, seed printed, DRO_FUZZ_SEED=N repeats) once more on a debug build, where
# bounds, overflow and precondition checks are on in every module: a fuzzer can only find an
# out-of-bounds read or an overflow where a checked build traps on it. Only these run (the
# numeric tests are 10-50x slower in debug); the build still compiles every test target.
swift build --build-tests
swift test --skip-build --filter 'NIfTITests|FuzzTests'

if ls scripts/interop/test_*.py >/dev/null 2>&1; then
    DRO_BIN="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)" \
        python3 -m pytest -q scripts/interop
fi
