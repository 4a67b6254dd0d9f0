"""The REST front end on the in-process server: predict (columnar and row format) bit-identical
to the local call, status and metadata, JSON numbers checked against the dtypes, and a request
that stalls is answered (408) within the read timeout instead of holding a thread."""

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.serving.conftest import run_local
from tests.serving.http_raw import exchange, post


@pytest.fixture(scope="module")
def url(server):
    return f"http://127.0.0.1:{server.rest_port}/v1/models/pinet"


def _post(url, body):
    return json.loads(urllib.request.urlopen(urllib.request.Request(
        url + ":predict", json.dumps(body).encode()), timeout=60).read())


def test_predict_columnar_and_rows(url, local, inputs):
    expected = run_local(local, "serving_default", inputs)
    out = _post(url, {"inputs": {k: v.tolist() for k, v in inputs.items()}})
    np.testing.assert_array_equal(np.array(out["outputs"]["image"]), expected["image"])
    rows = [{k: v[i].tolist() for k, v in inputs.items()} for i in range(2)]
    out = _post(url, {"instances": rows, "signature_name": "pose_transfer"})
    np.testing.assert_array_equal(np.array([p["parsing"] for p in out["predictions"]]),
                                  expected["parsing"])


def test_status_and_metadata(url, exp):
    status = json.loads(urllib.request.urlopen(url, timeout=30).read())
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    meta = json.loads(urllib.request.urlopen(url + "/metadata", timeout=30).read())
    assert meta["model_spec"] == {"name": "pinet", "version": "1"}
    assert set(meta["metadata"]["signature_def"]["signature_def"]) == {
        "serving_default", "pose_transfer", "texture_transfer"}
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url + "/versions/5", timeout=30)
    assert info.value.code == 404
    assert "version 5 of model 'pinet' not found" in json.loads(info.value.read())["error"]


def test_uint8_numbers_are_checked(url, inputs):
    bad = {k: v.tolist() for k, v in inputs.items()}
    bad["source_image"][0][0][0][0] = 300
    with pytest.raises(urllib.error.HTTPError) as info:
        _post(url, {"inputs": bad})
    assert info.value.code == 400
    assert "'source_image' must hold integers in 0..255" in json.loads(info.value.read())["error"]


def test_a_stalled_body_is_refused_within_the_read_timeout(server):
    """Content-Length promises 1000 bytes, 11 arrive: 408 after read_timeout_s (2 s here)."""
    data = post("/v1/models/pinet:predict", b'{"inputs": ', {"Content-Length": "1000"})
    status, body, elapsed = exchange(server.rest_port, data, timeout=30)
    assert status == 408 and "11 of 1000 bytes arrived within 2 s" in body["error"]
    assert elapsed < 2.0 + 3.0


def test_a_client_that_sends_nothing_is_dropped_within_the_read_timeout(server):
    results = []

    def idle():
        results.append(exchange(server.rest_port, b"", timeout=30))
    threads = [threading.Thread(target=idle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4 and all(r[2] < 2.0 + 3.0 for r in results)
