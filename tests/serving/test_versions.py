"""Version handling, driven by calling the poller directly (no waiting on the wall clock):
a new version is swapped in while requests keep being answered; a version folder that fails to
load while it is still being copied is retried once its contents change; GetModelStatus reports
the failure."""

import os
import shutil
import threading

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.serving.core import ServingCore, model_status
from pinet_tf.serving.models import ModelManager
from pinet_tf.serving.server import ModelServer
from tests.serving.conftest import run_local


@pytest.fixture
def own_base(exp, tmp_path):
    base = tmp_path / "pinet"
    shutil.copytree(exp.base, base)
    return str(base)


def test_a_folder_copied_in_place_is_retried_once_complete(own_base):
    manager = ModelManager(own_base, poll_seconds=3600)
    assert manager.poll_once() and manager.current().version == 1
    v1, v2 = os.path.join(own_base, "1"), os.path.join(own_base, "2")
    os.makedirs(v2)  # a copy in progress: saved_model.pb is there, the variables are not yet
    shutil.copy2(os.path.join(v1, "saved_model.pb"), v2)
    assert not manager.poll_once()
    assert manager.current().version == 1  # still served
    assert list(manager.failures()) == [2]
    status = model_status(ServingCore(manager, "pinet"), "pinet")
    states = [(s.version, s.state) for s in status.model_version_status]
    assert states == [(1, 30), (2, 50)]  # AVAILABLE, END
    assert "\n" not in status.model_version_status[1].status.error_message
    assert not manager.poll_once()  # unchanged: not retried (no reload loop)
    shutil.copytree(os.path.join(v1, "variables"), os.path.join(v2, "variables"))
    shutil.copy2(os.path.join(v1, "config.json"), v2)
    assert manager.poll_once(), "the completed folder was not retried"
    assert manager.current().version == 2 and manager.failures() == {}


def test_new_version_is_swapped_in_under_load(exp, own_base, local, inputs):
    """Dropped in like the exporter does (complete folder renamed into place), then one poll."""
    expected = run_local(local, "serving_default", inputs)
    with ModelServer(own_base, port=0, poll_seconds=3600) as server:
        from pinet_tf.serving.client import PoseTransferClient
        versions, failures, stop = [], [], threading.Event()

        def ask():
            with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=60) as c:
                while not stop.is_set():
                    try:
                        response = c.predict_response(c.predict_request(**inputs))
                        np.testing.assert_array_equal(
                            tf.make_ndarray(response.outputs["image"]), expected["image"])
                        versions.append(response.model_spec.version.value)
                    except Exception as e:
                        failures.append(repr(e))
                        return
        thread = threading.Thread(target=ask)
        thread.start()
        tmp = os.path.join(own_base, ".tmp-2")
        shutil.copytree(os.path.join(own_base, "1"), tmp)
        os.rename(tmp, os.path.join(own_base, "2"))
        assert server.manager.poll_once()
        with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=60) as c:
            assert c.predict_response(c.predict_request(**inputs)).model_spec.version.value == 2
            assert [s.version for s in c.status().model_version_status] == [2]
        stop.set()
        thread.join(timeout=120)
    assert failures == [] and versions and set(versions) <= {1, 2}
    assert versions == sorted(versions)


def test_version_folders_beyond_int64_are_ignored_not_fatal(own_base, inputs, caplog):
    """Issue 29, class 4: a folder named 2^63 (or 200 digits) beside version 1 is skipped with a
    log line; Predict and GetModelStatus keep answering for version 1."""
    for name in (str(2 ** 63), "9" * 200):
        shutil.copytree(os.path.join(own_base, "1"), os.path.join(own_base, name))
    with caplog.at_level("WARNING", logger="pinet_tf.serving"):
        with ModelServer(own_base, port=0, poll_seconds=3600) as server:
            from pinet_tf.serving.client import PoseTransferClient
            with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=60) as c:
                response = c.predict_response(c.predict_request(**inputs))
                assert response.model_spec.version.value == 1
            status = model_status(server.core, "pinet")
            assert [(s.version, s.state) for s in status.model_version_status] == [(1, 30)]
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert any(str(2 ** 63) in m for m in ignored) and all("\n" not in m for m in ignored)
