#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: the Swift test targets in a release build
# with testing enabled (numeric tests are 10-50x slower in debug), then the interop checks
# against nibabel and MedPy, which drive the release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

swift build -c release -Xswiftc -enable-testing
swift test -c release -Xswiftc -enable-testing

if ls scripts/interop/test_*.py >/dev/null 2>&1; then
    DRO_BIN="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)" \
        python3 -m pytest -q scripts/interop
fi
