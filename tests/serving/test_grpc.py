"""The gRPC front end on the in-process server: bit-identical Predict (both signatures),
output_filter, metadata, status, NOT_FOUND for unknown model/signature/version, concurrency.
Bad requests are the corpus of `test_hostile.py`."""

import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.serving.client import PoseTransferClient
from tests.serving.conftest import run_local


def test_model_name_defaults_to_base_folder(server):
    assert server.model_name == "pinet"
    assert server.host == "127.0.0.1"  # the default: this machine only


def test_predict_is_bit_identical_to_local_call(client, local, inputs):
    request = client.predict_request(**inputs)
    response = client.predict_response(request)
    assert response.model_spec.name == "pinet" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    expected = run_local(local, "serving_default", inputs)
    got = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
    assert set(got) == {"image", "parsing"}
    for name in got:
        assert got[name].dtype == expected[name].dtype
        np.testing.assert_array_equal(got[name], expected[name])


def test_int_val_and_tensor_content_give_the_same_answer(client, inputs):
    """A client may send values in the typed field instead of tensor_content."""
    request = client.predict_request(**inputs)
    by_field = client.predict_request(**inputs)
    for name, value in inputs.items():
        proto = by_field.inputs[name]
        proto.ClearField("tensor_content")
        field = proto.int_val if value.dtype == np.uint8 else proto.float_val
        field.extend(value.ravel().tolist())
    assert client.predict_response(by_field).SerializeToString() == \
        client.predict_response(request).SerializeToString()


def test_texture_transfer_and_output_filter(client, local, inputs):
    regions = np.zeros((2, 12), np.uint8)
    regions[:, 2] = 1
    arrays = dict(source_image=inputs["source_image"], source_parsing=inputs["source_parsing"],
                  source_keypoints=inputs["source_keypoints"],
                  condition_image=inputs["source_image"][::-1].copy(),
                  condition_parsing=inputs["source_parsing"][::-1].copy(), regions=regions)
    got = client.predict("texture_transfer", **arrays)
    np.testing.assert_array_equal(got["image"],
                                  run_local(local, "texture_transfer", arrays)["image"])
    request = client.predict_request(**inputs)
    request.output_filter.append("parsing")
    assert set(client.predict_response(request).outputs) == {"parsing"}


def test_metadata_and_status(client, exp):
    h, w = exp.cfg.image_size
    meta = client.metadata()
    assert meta["version"] == 1
    assert set(meta["signatures"]) == {"serving_default", "pose_transfer", "texture_transfer"}
    sig = meta["signatures"]["serving_default"]
    assert sig["inputs"]["source_image"] == ("uint8", [None, h, w, 3])
    assert sig["inputs"]["target_keypoints"] == ("float32", [None, 18, 2])
    assert sig["outputs"]["parsing"] == ("uint8", [None, h, w])
    status = client.status()
    assert [(s.version, s.state) for s in status.model_version_status] == [(1, 30)]  # AVAILABLE
    with pytest.raises(grpc.RpcError) as info:
        client.status(version=9)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("field,value,message", [
    ("name", "other", "model 'other' not found; this server serves 'pinet'"),
    ("signature_name", "nope", "signature 'nope' not found"),
    ("version", 7, "version 7 of model 'pinet' not found"),
    ("version_label", "stable", "version label 'stable' not found"),
])
def test_unknown_model_signature_version_is_not_found(field, value, message, client, inputs):
    request = client.predict_request(**inputs)
    if field == "version":
        request.model_spec.version.value = value
    else:
        setattr(request.model_spec, field, value)
    with pytest.raises(grpc.RpcError) as info:
        client.predict_response(request)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert message in info.value.details()


def test_eight_concurrent_clients(server, local, inputs):
    inputs = {k: v[:1] for k, v in inputs.items()}
    expected = run_local(local, "serving_default", inputs)
    failures, done = [], []

    def worker(seed):
        with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=120) as c:
            for _ in range(10):
                try:
                    out = c.predict(**inputs)
                    np.testing.assert_array_equal(out["image"], expected["image"])
                    done.append(seed)
                except Exception as e:  # collected: a thread's assert would be lost
                    failures.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert failures == []
    assert len(done) == 80
