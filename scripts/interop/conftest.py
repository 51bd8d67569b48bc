"""Shared pytest hooks of the interop checks: the `needs_bin` marker (see dro_bin.py) turns a
missing dro-* binary into a test failure, reported before any fixture runs."""
import pytest

from dro_bin import BIN, missing


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_bin(*tools): the test fails unless these dro-* binaries are in DRO_BIN")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    tools = [t for mark in item.iter_markers("needs_bin") for t in mark.args]
    gone = missing(tools)
    if gone:
        pytest.fail(f"DRO_BIN={BIN}: {', '.join(gone)} missing or not executable "
                    "(build with `swift build -c release`, or point DRO_BIN at the bin folder)", pytrace=False)
