"""Where the dro-* binaries under test live, and the marker that requires them.

DRO_BIN names the folder (scripts/test.sh sets it to the release bin path); unset, it defaults to
the repository's .build/release. A test marked `@needs("dro-eval")` (or a module with
`pytestmark = needs(...)`) FAILS when a binary is missing or not executable: skipping would let a
wrong DRO_BIN turn the whole interop suite into an all-skipped green run. The check itself is in
conftest.py (`pytest_runtest_setup`), so it runs before any fixture that would call the binary.
"""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("DRO_BIN") or ROOT / ".build" / "release")


def needs(*tools):
    """Marker: the test needs these binaries in BIN and fails (not skips) without them."""
    return pytest.mark.needs_bin(*tools)


def missing(tools):
    """The names among `tools` that are not an executable file in BIN."""
    return [t for t in tools if not ((BIN / t).is_file() and os.access(BIN / t, os.X_OK))]
