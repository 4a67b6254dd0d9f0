"""The gRPC server on a free loopback port: bit-identical Predict, bad requests, version swap,
concurrency, REST, the client verb and graceful SIGTERM."""

import json
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pinet_tf.serving.client import PoseTransferClient
from pinet_tf.serving.server import ModelServer
from tests.serving.tiny_export import batch, tiny_export

MAX_BATCH = 4
MAX_MESSAGE = 256 * 1024  # a tiny example is ~12 KB; 32 of them do not fit


@pytest.fixture(scope="module")
def exp(request, tmp_path_factory):
    return tiny_export(request, tmp_path_factory)


@pytest.fixture(scope="module")
def base(exp, tmp_path_factory):
    """A private copy of BASE (this module drops new versions into it)."""
    base = tmp_path_factory.mktemp("serving") / "pinet"
    shutil.copytree(exp.base, base)
    return str(base)


@pytest.fixture(scope="module")
def server(base):
    srv = ModelServer(base, host="127.0.0.1", port=0, rest_port=0, poll_seconds=0.2,
                      max_workers=8, max_concurrent_rpcs=64, max_message_bytes=MAX_MESSAGE,
                      max_batch_size=MAX_BATCH).start()
    yield srv
    srv.stop(grace=1.0)


@pytest.fixture(scope="module")
def client(server):
    with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def local(exp):
    return tf.saved_model.load(exp.path)  # kept alive while its signatures are used


@pytest.fixture(scope="module")
def inputs(exp):
    return batch(exp.cfg, 2, seed=21)


def _local(local, signature, arrays):
    return {k: v.numpy() for k, v in local.signatures[signature](**arrays).items()}


def test_model_name_defaults_to_base_folder(server):
    assert server.model_name == "pinet"


def test_predict_is_bit_identical_to_local_call(client, local, inputs):
    request = client.predict_request(**inputs)
    response = client.predict_response(request)
    assert response.model_spec.name == "pinet" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    expected = _local(local, "serving_default", inputs)
    got = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
    assert set(got) == {"image", "parsing"}
    for name in got:
        assert got[name].dtype == expected[name].dtype
        np.testing.assert_array_equal(got[name], expected[name])


def test_texture_transfer_and_output_filter(client, local, inputs):
    regions = np.zeros((2, 12), np.uint8)
    regions[:, 2] = 1
    arrays = dict(source_image=inputs["source_image"], source_parsing=inputs["source_parsing"],
                  source_keypoints=inputs["source_keypoints"],
                  condition_image=inputs["source_image"][::-1].copy(),
                  condition_parsing=inputs["source_parsing"][::-1].copy(), regions=regions)
    got = client.predict("texture_transfer", **arrays)
    np.testing.assert_array_equal(got["image"], _local(local, "texture_transfer", arrays)["image"])
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


def _bad(inputs, name, fn):
    arrays = {k: v.copy() for k, v in inputs.items()}
    fn(arrays) if name is None else arrays.__setitem__(name, fn(arrays[name]))
    return arrays


def _set(a, index, value):
    a[index] = value
    return a


BAD_REQUESTS = {
    "wrong dtype": (lambda i: _bad(i, "source_image", lambda a: a.astype(np.float32)),
                    grpc.StatusCode.INVALID_ARGUMENT, "'source_image' has dtype float32, "
                                                      "expected uint8"),
    "wrong image size": (lambda i: _bad(i, "source_image", lambda a: a[:, :32]),
                         grpc.StatusCode.INVALID_ARGUMENT, "'source_image' has shape [2,32,44,3]"),
    "wrong keypoint shape": (lambda i: _bad(i, "target_keypoints", lambda a: a[:, :17]),
                             grpc.StatusCode.INVALID_ARGUMENT, "expected [B,18,2]"),
    "missing input": (lambda i: _bad(i, None, lambda d: d.pop("target_keypoints")),
                      grpc.StatusCode.INVALID_ARGUMENT, "missing input(s) ['target_keypoints']"),
    "unexpected input": (lambda i: _bad(i, None, lambda d: d.__setitem__("extra", d["source_image"])),
                         grpc.StatusCode.INVALID_ARGUMENT, "unexpected input(s) ['extra']"),
    "keypoints NaN": (lambda i: _bad(i, "source_keypoints", lambda a: _set(a, (1, 4, 0), np.nan)),
                      grpc.StatusCode.INVALID_ARGUMENT, "non-finite value nan at index [1, 4, 0]"),
    "parsing label > 11": (lambda i: _bad(i, "source_parsing", lambda a: _set(a, (0, 5, 6), 12)),
                           grpc.StatusCode.INVALID_ARGUMENT, "parsing label 12"),
    "batch sizes differ": (lambda i: _bad(i, "target_keypoints", lambda a: a[:1]),
                           grpc.StatusCode.INVALID_ARGUMENT, "different batch sizes"),
    "batch over the limit": (lambda i: {k: np.concatenate([v] * 3) for k, v in i.items()},
                             grpc.StatusCode.INVALID_ARGUMENT, f"exceeds this server's limit "
                                                               f"{MAX_BATCH}"),
    "oversized payload": (lambda i: {k: np.concatenate([v] * 16) for k, v in i.items()},
                          grpc.StatusCode.RESOURCE_EXHAUSTED, "larger than max"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_is_refused_and_server_stays_up(case, client, local, inputs):
    make, code, message = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as info:
        client.predict(**make(inputs))
    assert info.value.code() == code
    assert message in info.value.details()
    np.testing.assert_array_equal(client.predict(**inputs)["image"],
                                  _local(local, "serving_default", inputs)["image"])


@pytest.mark.parametrize("field,value,message", [
    ("name", "other", "model 'other' not found; this server serves 'pinet'"),
    ("signature_name", "nope", "signature 'nope' not found"),
    ("version", 7, "version 7 of model 'pinet' not found"),
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
    expected = _local(local, "serving_default", inputs)
    failures, done = [], []

    def worker(seed):
        with PoseTransferClient(f"127.0.0.1:{server.port}", "pinet", timeout=120) as c:
            for _ in range(20):
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
        t.join()
    assert failures == []
    assert len(done) == 160


def test_rest_predict_status_and_errors(server, local, inputs):
    url = f"http://127.0.0.1:{server.rest_port}/v1/models/pinet"
    body = json.dumps({"inputs": {k: v.tolist() for k, v in inputs.items()}}).encode()
    out = json.loads(urllib.request.urlopen(urllib.request.Request(url + ":predict", body)).read())
    expected = _local(local, "serving_default", inputs)
    np.testing.assert_array_equal(np.array(out["outputs"]["image"]), expected["image"])
    rows = [{k: v[i].tolist() for k, v in inputs.items()} for i in range(2)]
    out = json.loads(urllib.request.urlopen(urllib.request.Request(
        url + ":predict", json.dumps({"instances": rows}).encode())).read())
    np.testing.assert_array_equal(np.array([p["parsing"] for p in out["predictions"]]),
                                  expected["parsing"])
    status = json.loads(urllib.request.urlopen(url).read())
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    bad = {k: v.tolist() for k, v in inputs.items()}
    bad["source_image"][0][0][0][0] = 300
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(
            url + ":predict", json.dumps({"inputs": bad}).encode()))
    assert info.value.code == 400
    assert "integers in 0..255" in json.loads(info.value.read())["error"]


def test_client_verb_writes_the_served_result(server, local, inputs, tmp_path, capsys):
    import argparse

    from pinet_tf.serving import cli
    paths = {"source": tmp_path / "s.png", "parsing": tmp_path / "p.png",
             "skp": tmp_path / "s.json", "tkp": tmp_path / "t.npy", "out": tmp_path / "o.png"}
    Image.fromarray(inputs["source_image"][0]).save(paths["source"])
    Image.fromarray(inputs["source_parsing"][0]).save(paths["parsing"])
    paths["skp"].write_text(json.dumps({"keypoints": inputs["source_keypoints"][0].tolist()}))
    np.save(paths["tkp"], inputs["target_keypoints"][0])
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args([
        "client", "--server", f"127.0.0.1:{server.port}", "--source", str(paths["source"]),
        "--source-parsing", str(paths["parsing"]), "--source-keypoints", str(paths["skp"]),
        "--target-keypoints", str(paths["tkp"]), "--out", str(paths["out"])])
    assert args.func(args) == 0
    expected = _local(local, "serving_default", {k: v[:1] for k, v in inputs.items()})
    np.testing.assert_array_equal(np.asarray(Image.open(paths["out"])), expected["image"][0])
    # A picture of the wrong size is refused before any request, naming both sizes.
    Image.fromarray(inputs["source_image"][0][:32]).save(paths["source"])
    with pytest.raises(ValueError, match="the model takes 64x44 images"):
        args.func(args)


def test_new_version_is_served_within_bounded_time(server, client, base, local, inputs):
    """Dropped in like the exporter does (complete folder renamed into place)."""
    expected = _local(local, "serving_default", inputs)
    tmp = os.path.join(base, ".tmp-2")
    shutil.copytree(os.path.join(base, "1"), tmp)
    os.rename(tmp, os.path.join(base, "2"))
    start, versions = time.monotonic(), []
    while time.monotonic() - start < 90:
        response = client.predict_response(client.predict_request(**inputs))  # never fails
        np.testing.assert_array_equal(tf.make_ndarray(response.outputs["image"]),
                                      expected["image"])
        versions.append(response.model_spec.version.value)
        if versions[-1] == 2:
            break
    assert versions[-1] == 2, "version 2 was not served within 90 s"
    assert set(versions) <= {1, 2} and versions == sorted(versions)
    assert [s.version for s in client.status().model_version_status] == [2]


def test_sigterm_stops_gracefully(base, inputs, capsys):
    """`pinet-tf serve` in this process; another thread sends SIGTERM once it has answered."""
    import argparse
    import socket

    from pinet_tf.serving import cli
    with socket.socket() as s:  # a free loopback port for the verb to bind
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--model-base-path", base, "--port", str(port),
                              "--host", "127.0.0.1", "--grace-seconds", "5"])
    answered = []

    def ask_then_terminate():
        with PoseTransferClient(f"127.0.0.1:{port}", "pinet", timeout=5) as c:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not answered:
                try:
                    answered.append(c.predict(**inputs)["image"])
                except grpc.RpcError:
                    time.sleep(0.2)  # not listening or not loaded yet
        if signal.getsignal(signal.SIGTERM) is not before:  # only while serve's handler is set
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=ask_then_terminate)
    thread.start()
    try:
        assert args.func(args) == 0  # returns only once stopped
    finally:
        thread.join()
    assert answered, "the server never answered"
    assert "stopped (SIGTERM)" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
    with socket.socket() as s:  # the port was released
        s.bind(("127.0.0.1", port))
