"""Bad input against a `pinet-tf serve` subprocess: the corpus (gRPC and REST, each kind asserting
the status, a message naming the problem and the input, and the next valid request answered with
identical bytes), no traceback in the server's log, a memory guard on the server's peak RSS, and
a graceful SIGTERM that fails fast instead of hanging.

Memory bound: the crafted requests below (a 3 KB TensorProto declaring [50000,64,44,3], a batch
at the limit carrying one value, a REST body of ~200 k commas, a Content-Length of 1 TB) together
raise the server's peak RSS (VmHWM) by less than MEMORY_BOUND_MB after warm-up; before the
metadata checks the first one alone cost ~400 MB.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_shape_pb2

from pinet_tf.serving.client import PoseTransferClient
from tests.serving.http_raw import exchange, post

MAX_BATCH = 4
MEMORY_BOUND_MB = 24
START_TIMEOUT_S = 240


def _peak_rss_mb(pid) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


class Served:
    """`pinet-tf serve` in a subprocess, on free loopback ports, its log in a file."""

    def __init__(self, base, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.getcwd()] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pinet_tf.cli", "serve", "--model-base-path", base,
             "--port", "0", "--rest-port", "0", "--max-batch-size", str(MAX_BATCH),
             "--max-message-mb", "1", "--read-timeout", "3", "--grace-seconds", "5"],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        line = self._first_line()
        # "serving model 'pinet' from BASE on 127.0.0.1:PORT, REST port RPORT"
        self.port = int(line.split(" on ")[1].split(",")[0].rsplit(":", 1)[1])
        self.rest_port = int(line.rsplit(" ", 1)[1])

    def _first_line(self) -> str:
        got = []
        reader = threading.Thread(target=lambda: got.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not got or not got[0].startswith("serving model"):
            self.proc.kill()
            raise AssertionError(f"server did not start within {START_TIMEOUT_S} s: "
                                 f"{got} {open(self.log_path).read()[-2000:]}")
        return got[0]

    def log(self) -> str:
        self._log.flush()
        return open(self.log_path).read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()


@pytest.fixture(scope="module")
def served(base, tmp_path_factory):
    srv = Served(base, str(tmp_path_factory.mktemp("served") / "server.log"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def grpc_client(served):
    with PoseTransferClient(f"127.0.0.1:{served.port}", "pinet", timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def reference(grpc_client, inputs):
    """The valid request's answer, as bytes, before any bad request."""
    return grpc_client.predict_response(grpc_client.predict_request(**inputs)).SerializeToString()


# -- gRPC corpus ----------------------------------------------------------------------------

def _arrays(inputs, name=None, fn=None):
    arrays = {k: v.copy() for k, v in inputs.items()}
    if name is not None:
        arrays[name] = fn(arrays[name])
    return arrays


def _set(a, index, value):
    a[index] = value
    return a


def _proto(client, inputs, name, edit):
    """A valid request whose input `name`'s TensorProto is edited in place by `edit`."""
    request = client.predict_request(**inputs)
    edit(request.inputs[name])
    return request


def _declare(proto, shape, int_vals=None, content=None):
    proto.ClearField("tensor_content")
    proto.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]))
    if int_vals is not None:
        proto.int_val.extend(int_vals)
    if content is not None:
        proto.tensor_content = content


def _grpc_cases(c, i):
    """kind -> (request, code, message fragments)."""
    ia = grpc.StatusCode.INVALID_ARGUMENT
    return {
        "wrong dtype": (c.predict_request(**_arrays(i, "source_image",
                                                    lambda a: a.astype(np.float32))),
                        ia, ["'source_image' has dtype float32, expected uint8"]),
        "unknown dtype enum": (_proto(c, i, "source_image", lambda p: setattr(p, "dtype", 999)),
                               ia, ["'source_image' has an unknown dtype enum 999"]),
        "dtype unset": (_proto(c, i, "source_parsing", lambda p: setattr(p, "dtype", 0)),
                        ia, ["'source_parsing' has dtype unset"]),
        "wrong image size": (c.predict_request(**_arrays(i, "source_image", lambda a: a[:, :32])),
                             ia, ["'source_image' has shape [2,32,44,3]", "expected [B,64,44,3]"]),
        "wrong keypoint shape": (c.predict_request(**_arrays(i, "target_keypoints",
                                                             lambda a: a[:, :17])),
                                 ia, ["'target_keypoints' has shape", "expected [B,18,2]"]),
        "unknown rank": (_proto(c, i, "source_keypoints",
                                lambda p: p.tensor_shape.CopyFrom(
                                    tensor_shape_pb2.TensorShapeProto(unknown_rank=True))),
                         ia, ["'source_keypoints' has an unknown rank"]),
        "negative dimension": (_proto(c, i, "source_parsing",
                                      lambda p: _declare(p, [-1, 64, 44], content=b"")),
                               ia, ["'source_parsing' declares a negative dimension"]),
        "huge declared shape, one value": (
            _proto(c, i, "source_image", lambda p: _declare(p, [50000, 64, 44, 3], [7])),
            ia, ["batch size 50000 exceeds this server's limit 4 (input 'source_image'"]),
        "declared count != carried values": (
            _proto(c, i, "source_image", lambda p: _declare(p, [2, 64, 44, 3], [7])),
            ia, ["'source_image' carries 1 in int_val, not the 16896 int_val values"]),
        "tensor_content too short": (
            _proto(c, i, "source_parsing",
                   lambda p: setattr(p, "tensor_content", p.tensor_content[:-5])),
            ia, ["'source_parsing' carries 5627 bytes of tensor_content, not the 5632"]),
        "tensor_content and int_val": (
            _proto(c, i, "source_parsing", lambda p: p.int_val.append(1)),
            ia, ["'source_parsing' carries both tensor_content and int_val"]),
        "int_val out of uint8 range": (
            _proto(c, i, "source_parsing",
                   lambda p: _declare(p, [2, 64, 44], [300] * (2 * 64 * 44))),
            ia, ["'source_parsing' has int_val values outside 0..255"]),
        "missing input": (c.predict_request(**{k: v for k, v in i.items()
                                               if k != "target_keypoints"}),
                          ia, ["missing input(s) ['target_keypoints']"]),
        "unexpected input": (c.predict_request(**i, extra=i["source_image"]),
                             ia, ["unexpected input(s) ['extra']"]),
        "keypoints NaN": (c.predict_request(**_arrays(i, "source_keypoints",
                                                      lambda a: _set(a, (1, 4, 0), np.nan))),
                          ia, ["'source_keypoints' has a non-finite value nan at index [1, 4, 0]"]),
        "parsing label > 11": (c.predict_request(**_arrays(i, "source_parsing",
                                                           lambda a: _set(a, (0, 5, 6), 12))),
                               ia, ["'source_parsing' has value 12 at index [0, 5, 6]",
                                    "parsing labels must be 0..11"]),
        "batch sizes differ": (c.predict_request(**_arrays(i, "target_keypoints",
                                                           lambda a: a[:1])),
                               ia, ["different batch sizes"]),
        "empty batch": (c.predict_request(**{k: v[:0] for k, v in i.items()}),
                        ia, ["empty batch"]),
        "batch over the limit": (c.predict_request(**{k: np.concatenate([v] * 3)
                                                      for k, v in i.items()}),
                                 ia, ["batch size 6 exceeds this server's limit 4"]),
        "oversized payload": (c.predict_request(**{k: np.concatenate([v] * 48)
                                                   for k, v in i.items()}),
                              grpc.StatusCode.RESOURCE_EXHAUSTED, ["larger than max"]),
        "unknown signature": (c.predict_request("nope", **i), grpc.StatusCode.NOT_FOUND,
                              ["signature 'nope' not found"]),
        "regions 2 (texture)": (c.predict_request(
            "texture_transfer", source_image=i["source_image"],
            source_parsing=i["source_parsing"], source_keypoints=i["source_keypoints"],
            condition_image=i["source_image"], condition_parsing=i["source_parsing"],
            regions=np.full((2, 12), 2, np.uint8)),
            ia, ["'regions' has value 2 at index [0, 0]", "regions must be 0 or 1"]),
    }




def test_grpc_corpus(served, grpc_client, inputs, reference):
    cases = _grpc_cases(grpc_client, inputs)
    assert len(cases) >= 8
    problems = []
    for kind, (request, code, fragments) in cases.items():
        try:
            grpc_client.predict_response(request)
            problems.append(f"{kind}: accepted")
            continue
        except grpc.RpcError as e:
            if e.code() != code or not all(f in e.details() for f in fragments):
                problems.append(f"{kind}: {e.code()} {e.details()!r}")
            if "\n" in e.details():
                problems.append(f"{kind}: multi-line message {e.details()!r}")
        again = grpc_client.predict_response(grpc_client.predict_request(**inputs))
        if again.SerializeToString() != reference:
            problems.append(f"{kind}: the next valid answer differs")
    assert problems == []
    assert "Traceback" not in served.log()


# -- REST corpus ----------------------------------------------------------------------------

PREDICT = "/v1/models/pinet:predict"


def _rest_cases(i):
    good = {k: v.tolist() for k, v in i.items()}
    body = lambda obj: json.dumps(obj).encode()  # noqa: E731
    return {
        "inputs is a number": (post(PREDICT, b'{"inputs": 5}'), 400,
                               ["'inputs' must be an object", "got int"]),
        "signature_name is an object": (
            post(PREDICT, body({"signature_name": {"a": 1}, "inputs": good})), 400,
            ["signature_name must be a string, got dict"]),
        "Content-Length abc": (post(PREDICT, b"{}", {"Content-Length": "abc"}), 400,
                               ["Content-Length must be a non-negative integer, got 'abc'"]),
        "Content-Length -1": (post(PREDICT, b"{}", {"Content-Length": "-1"}), 400,
                              ["Content-Length must be a non-negative integer, got '-1'"]),
        "Content-Length 1 TB": (post(PREDICT, b"{}", {"Content-Length": str(10 ** 12)}), 413,
                                ["request body of 1000000000000 bytes exceeds"]),
        "no Content-Length": (post(PREDICT, b"", {"Content-Length": None}), 411,
                              ["missing Content-Length"]),
        "empty body": (post(PREDICT, b""), 400, ["empty request body"]),
        "chunked body": (post(PREDICT, b"0\r\n\r\n", {"Content-Length": None,
                                                      "Transfer-Encoding": "chunked"}), 411,
                         ["chunked request bodies are not accepted"]),
        "not JSON": (post(PREDICT, b"hello"), 400, ["request body is not JSON"]),
        "JSON array": (post(PREDICT, b"[1, 2]"), 400, ["must be a JSON object, got list"]),
        "deeply nested JSON": (post(PREDICT, b"[" * 100000 + b"]" * 100000), 400,
                               ["nested too deeply"]),
        "too many values": (post(PREDICT, b"[" + b"0," * 250000 + b"0]"), 413,
                            ["holds more than", "values"]),
        "both inputs and instances": (post(PREDICT, body({"inputs": good, "instances": []})),
                                      400, ["exactly one of 'inputs'"]),
        "instances not a list": (post(PREDICT, body({"instances": {"a": 1}})), 400,
                                 ["'instances' must be a non-empty list"]),
        "input nested too deep": (post(PREDICT, body({"inputs": dict(
            good, target_keypoints=[[[[[0.0]]]]])})), 400,
            ["'target_keypoints' is nested deeper than its rank 3"]),
        "ragged input": (post(PREDICT, body({"inputs": dict(
            good, source_keypoints=[good["source_keypoints"][0], [[1.0, 2.0]] * 17])})), 400,
            ["'source_keypoints' is not a rectangular array"]),
        "strings for numbers": (post(PREDICT, body({"inputs": dict(
            good, target_keypoints=[[["a", "b"]] * 18] * 2)})), 400,
            ["'target_keypoints' is not a rectangular array of numbers"]),
        "batch over the limit": (post(PREDICT, body({"inputs": {
            k: v * 3 for k, v in good.items()}})), 400,
            ["batch size 6 exceeds this server's limit 4"]),
        "unknown endpoint": (post("/v2/whatever", b"{}"), 404, ["no such endpoint"]),
        # issue 29, class 4: numbers out of range
        "Content-Length of 5000 digits": (post(PREDICT, b"{}", {"Content-Length": "9" * 5000}),
                                          413, ["5000-digit length exceeds"]),
        "Content-Length 0-padded": (post(PREDICT, b"{}", {"Content-Length": "0" * 5000 + "2"}),
                                    400, ["'inputs'"]),
        "version 2^63": (post(f"/v1/models/pinet/versions/{2 ** 63}:predict", body(
            {"inputs": good})), 400, [f"version {2 ** 63} is out of range"]),
        "version of 5000 digits": (post("/v1/models/pinet/versions/" + "7" * 5000 + ":predict",
                                        body({"inputs": good})), 400, ["is out of range"]),
        "5000-digit integer input": (post(PREDICT, b'{"inputs": {"source_image": 1'
                                          + b"0" * 5000 + b"}}"), 400, ["not JSON"]),
        "bad request line": (b"NONSENSE\r\n\r\n", 400, ["Bad request"]),
    }


def _rest_valid(served, inputs) -> bytes:
    data = post(PREDICT, json.dumps({"inputs": {k: v.tolist() for k, v in inputs.items()}})
                .encode())
    status, body, _ = exchange(served.rest_port, data)
    assert status == 200
    return json.dumps(body, sort_keys=True).encode()


def test_rest_corpus(served, inputs):
    reference = _rest_valid(served, inputs)
    cases = _rest_cases(inputs)
    assert len(cases) >= 8
    problems = []
    for kind, (data, code, fragments) in cases.items():
        status, body, elapsed = exchange(served.rest_port, data)
        if status != code or not all(f in (body or {}).get("error", "") for f in fragments):
            problems.append(f"{kind}: {status} {body}")
        if elapsed > 3 + 3:
            problems.append(f"{kind}: took {elapsed:.1f} s")
        if _rest_valid(served, inputs) != reference:
            problems.append(f"{kind}: the next valid answer differs")
    assert problems == []
    assert "Traceback" not in served.log()


# -- memory guard and SIGTERM (last: it stops the server) ------------------------------------

def test_refused_requests_do_not_grow_peak_memory(served, grpc_client, inputs, reference):
    for _ in range(3):  # warm-up: valid requests on both front ends set the steady peak
        grpc_client.predict_response(grpc_client.predict_request(**inputs))
        _rest_valid(served, inputs)
    before = _peak_rss_mb(served.proc.pid)
    hostile = [_proto(grpc_client, inputs, "source_image",
                      lambda p: _declare(p, [50000, 64, 44, 3], [7])),
               _proto(grpc_client, inputs, "source_image",
                      lambda p: _declare(p, [MAX_BATCH, 64, 44, 3], [7])),
               _proto(grpc_client, inputs, "source_keypoints",
                      lambda p: _declare(p, [10 ** 9, 18, 2], content=b"\0" * 8))]
    assert all(len(r.SerializeToString()) < 32 * 1024 for r in hostile)
    for _ in range(3):
        for request in hostile:
            with pytest.raises(grpc.RpcError) as info:
                grpc_client.predict_response(request)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for data in (post(PREDICT, b"[" + b"0," * 190000 + b"0]"),
                     post(PREDICT, b"{}", {"Content-Length": str(10 ** 12)})):
            status, _, _ = exchange(served.rest_port, data)
            assert status in (400, 413)
    growth = _peak_rss_mb(served.proc.pid) - before
    print(f"\npeak RSS {before:.0f} MB after warm-up, +{growth:.1f} MB after the crafted "
          f"requests (bound {MEMORY_BOUND_MB} MB)")
    assert growth < MEMORY_BOUND_MB
    assert grpc_client.predict_response(
        grpc_client.predict_request(**inputs)).SerializeToString() == reference


def test_sigterm_stops_gracefully_and_fast(served, grpc_client, inputs):
    """An in-flight request finishes, the process exits 0 within the grace period."""
    results = []
    thread = threading.Thread(target=lambda: results.append(
        grpc_client.predict(**{k: np.concatenate([v] * 2) for k, v in inputs.items()})))
    thread.start()
    time.sleep(0.05)
    served.proc.send_signal(signal.SIGTERM)
    try:
        out, _ = served.proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        pytest.fail("the server did not stop within 30 s of SIGTERM")
    thread.join(timeout=30)
    assert served.proc.returncode == 0
    assert "stopped (SIGTERM)" in out
    assert "Traceback" not in served.log()
