"""No test here reaches the network: pretrained files are never downloaded (tests of the
download itself, in tests/utils/test_weights.py, serve their own files on a loopback server)."""

import pytest


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    monkeypatch.setenv("PINET_TF_NO_DOWNLOAD", "1")
