"""Shared pytest set-up.

Session fixtures live in `tests/fixtures_<topic>.py` (one file per owner: data, training, ...) and
are loaded here as plugins, so that a tiny synthetic data set and one tiny trained run are made
once per test session and shared by every package's tests.

A test that uses `trained_tiny_run` says so with `@pytest.mark.trained` (registered in pytest.ini,
like keras-hub's `large`): `pytest -m "not trained"` then runs everything that needs no training,
and an unmarked user stops the session at collection, naming the test.

In parallel (`pytest -n auto`, pytest-xdist; `pytest_configure` below turns its default
`--dist load` into `loadgroup`, so that the groups set here hold) every test file runs whole on
one worker, so a module fixture is made once, and every `trained` test runs on one worker, so the
tiny run is trained once (or taken from `PINET_TF_TRAINED_RUN`, which CI points at the Quick
start's own run, or from the `PINET_TF_TEST_CACHE` folder; tests/fixtures_training.py).
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


def pytest_configure(config):
    if getattr(config.option, "dist", None) == "load":  # what `-n N` means without --dist
        config.option.dist = "loadgroup"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if "trained_tiny_run" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("trained") is None]
    if unmarked:
        raise pytest.UsageError(
            f"these tests use trained_tiny_run without @pytest.mark.trained: {unmarked}")
    for item in items:
        group = "trained" if item.get_closest_marker("trained") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
