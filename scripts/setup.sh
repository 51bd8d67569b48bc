#!/usr/bin/env bash
# Installs what dro-seg needs on a fresh Debian machine that has Swift:
# OpenBLAS and zlib headers (apt), and the Python packages the interop checks use (pip).
# Safe to run again: it installs only what is missing or, for the pinned Python packages, at
# another version.
set -euo pipefail

need_apt=()
for pkg in libopenblas-dev zlib1g-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ "${DRO_SKIP_PIP:-0}" != "1" ]; then
    # Exact versions of the reference implementations the interop checks compare against (and of
    # the test runner): a new nibabel or MedPy release must not change what "agrees" means without
    # a commit. Pinned 2026-12-02 to the versions pip installed then (Python 3.11).
    pins="nibabel==5.4.2 medpy==0.5.2 scipy==1.17.1 numpy==2.4.6 pytest==9.0.3 pyyaml==6.0.3"
    differ=$(python3 - $pins <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
out = []
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != wanted:
        out.append(pin)
print(" ".join(out))
PY
)
    if [ -n "$differ" ]; then
        echo "setup: pip installing $differ"
        python3 -m pip install -q --disable-pip-version-check $differ
    fi
fi
