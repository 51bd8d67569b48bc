#!/usr/bin/env bash
# Installs what dro-seg needs on a fresh Debian machine that has Swift:
# OpenBLAS and zlib headers (apt), and the Python packages the interop checks use (pip).
# Safe to run again: it installs only what is missing.
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
    missing=$(python3 - <<'PY'
import importlib.util
mods = {"nibabel": "nibabel", "medpy": "medpy", "scipy": "scipy", "numpy": "numpy", "pytest": "pytest", "yaml": "pyyaml"}
print(" ".join(pkg for mod, pkg in mods.items() if importlib.util.find_spec(mod) is None))
PY
)
    if [ -n "$missing" ]; then
        echo "setup: pip installing $missing"
        python3 -m pip install -q --disable-pip-version-check $missing
    fi
fi
