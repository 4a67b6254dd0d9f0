"""Shared pytest set-up.

Session fixtures live in `tests/fixtures_<topic>.py` (one file per owner: data, training, ...) and
are loaded here as plugins, so that a tiny synthetic data set and one tiny trained run are made
once per test session and shared by every package's tests.
"""

import glob
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytest_plugins = sorted(
    "tests." + os.path.basename(p)[:-3]
    for p in glob.glob(os.path.join(os.path.dirname(__file__), "fixtures_*.py")))
