"""Shared pytest set-up.

Session fixtures live in `tests/fixtures_<topic>.py` (one file per owner: data, training, ...) and
are loaded here as plugins, so that a tiny synthetic data set and one tiny trained run are made
once per test session and shared by every package's tests.

A test that uses `trained_tiny_run` says so with `@pytest.mark.trained` (registered in pytest.ini,
like keras-hub's `large`): `pytest -m "not trained"` then runs everything that needs no training,
and an unmarked user stops the session at collection, naming the test.
"""

import glob
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No test reaches the network: pretrained files are found locally or the loader says where it
# looked (the download path itself is tested against a loopback server, tests/utils).
os.environ.setdefault("PINET_TF_NO_DOWNLOAD", "1")

pytest_plugins = sorted(
    "tests." + os.path.basename(p)[:-3]
    for p in glob.glob(os.path.join(os.path.dirname(__file__), "fixtures_*.py")))


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if "trained_tiny_run" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("trained") is None]
    if unmarked:
        raise pytest.UsageError(
            f"these tests use trained_tiny_run without @pytest.mark.trained: {unmarked}")
