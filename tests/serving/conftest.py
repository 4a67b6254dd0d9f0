"""Fixtures of the serving tests: one random-weights tiny export, an in-process server on free
loopback ports, a client, the local SavedModel (the reference) and a batch of inputs.

A server in a subprocess (for its log and its peak memory) is `served` in `test_hostile.py`.
"""

import shutil

import pytest
import tensorflow as tf

from pinet_tf.serving.client import PoseTransferClient
from pinet_tf.serving.server import ModelServer
from tests.serving.tiny_export import batch, tiny_export

MAX_BATCH = 4
MAX_MESSAGE = 256 * 1024  # a tiny example is ~12 KB; 32 of them do not fit


@pytest.fixture(scope="session")
def exp(request, tmp_path_factory):
    return tiny_export(request, tmp_path_factory)


@pytest.fixture(scope="session")
def base(exp, tmp_path_factory):
    """A private copy of BASE for the shared server (tests that add versions make their own)."""
    base = tmp_path_factory.mktemp("serving") / "pinet"
    shutil.copytree(exp.base, base)
    return str(base)


@pytest.fixture(scope="session")
def server(base):
    srv = ModelServer(base, port=0, rest_port=0, poll_seconds=3600, max_workers=8,
                      max_concurrent_rpcs=64, max_message_bytes=MAX_MESSAGE,
                      max_batch_size=MAX_BATCH, read_timeout_s=2.0).start()
    yield srv
    srv.stop(grace=1.0)


@pytest.fixture(scope="session")
def client(server):
    with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def local(exp):
    return tf.saved_model.load(exp.path)  # kept alive while its signatures are used


@pytest.fixture(scope="session")
def inputs(exp):
    return batch(exp.cfg, 2, seed=21)


def run_local(local, signature, arrays):
    return {k: v.numpy() for k, v in local.signatures[signature](**arrays).items()}
