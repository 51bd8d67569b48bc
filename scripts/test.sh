#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: the Swift test targets in a release build
# with testing enabled (numeric tests are 10-50x slower in debug), the interop checks against
# nibabel, MedPy, numpy and OpenMPI, which drive the release binaries, then the fuzz tests again
# in a debug build under AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Tests/TestSupport is a library target, so a plain `swift build -c release` (the README's build and
# scripts/demo.sh) compiles it without -enable-testing: a `@testable import` there breaks that build
# although every test passes. It may use `package` declarations only.
if grep -n '^@testable' Tests/TestSupport/*.swift; then
    echo "test.sh: Tests/TestSupport must not use @testable imports (plain release builds compile it)" >&2
    exit 1
fi

# One build of every target, tests included: `swift test` without --skip-build would compile
# every module a second time.
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build

DRO_BIN="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)" \
    python3 -m pytest -q scripts/interop

# The fuzz tests once more on a debug build (assertions on, no optimiser assumptions) under
# AddressSanitizer: a mutated file that reads out of bounds, overflows or uses freed memory is
# reported there even where the release build would not trap. Only the NIfTI tests and the
# *FuzzTests run (the numeric tests are 10-50x slower in debug): every mutation fuzzer (NIfTI,
# checkpoint, case cache, config: >= 10^4 mutated inputs each, seed printed, DRO_FUZZ_SEED=N
# repeats; docs/reliability.md "Fuzzing"). LeakSanitizer is off: it reports XCTest's and
# Foundation's own allocations.
swift build --build-tests --sanitize=address
ASAN_OPTIONS=detect_leaks=0 swift test --skip-build --sanitize=address --filter 'NIfTITests|FuzzTests'
