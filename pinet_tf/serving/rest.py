"""The optional REST front end, following TF-Serving's REST API (JSON, columnar or row format).

    GET  /v1/models/NAME[/versions/N]             -> model status
    GET  /v1/models/NAME[/versions/N]/metadata    -> signature defs
    POST /v1/models/NAME[/versions/N]:predict     {"signature_name": ..., "inputs": {...}}
                                                  or {"instances": [{...}, ...]}
JSON numbers are checked against the signature's dtypes (integers in 0..255 for uint8).
Request bodies are bounded by the same byte limit as gRPC (413 above it).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
from google.protobuf import json_format

from pinet_tf.serving.validation import RequestError, decode_json_inputs, invalid

_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/([0-9]+))?(/metadata|:predict)?$")
_HTTP = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
         grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.RESOURCE_EXHAUSTED: 413}


class RestServer:
    def __init__(self, core, host: str, port: int, max_body_bytes: int):
        handler = type("Handler", (_Handler,), {"core": core, "max_body": int(max_body_bytes)})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest",
                                        daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    core = None
    max_body = 0

    def log_message(self, *args):  # quiet: the gRPC side logs what matters
        pass

    def _reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self):
        match = _PATH.match(self.path)
        if not match:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"no such endpoint {self.path!r}")
        name, version, action = match.groups()
        return name, int(version) if version else None, action or ""

    def do_GET(self):
        try:
            name, version, action = self._route()
            if action == ":predict":
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "predict needs POST")
            from pinet_tf.serving.server import model_status
            from tensorflow_serving.apis import model_pb2
            if action == "/metadata":
                model = self.core.model(name, version)
                sigs = {k: json_format.MessageToDict(v) for k, v in model.signature_defs.items()}
                body = {"model_spec": {"name": name, "version": str(model.version)},
                        "metadata": {"signature_def": {"signature_def": sigs}}}
            else:
                spec = model_pb2.ModelSpec(name=name)
                if version is not None:
                    spec.version.value = version
                body = json_format.MessageToDict(model_status(self.core, spec))
            self._reply(200, body)
        except RequestError as e:
            self._reply(_HTTP.get(e.code, 500), {"error": e.message})

    def do_POST(self):
        try:
            name, version, action = self._route()
            if action != ":predict":
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"POST {self.path!r}: use :predict")
            length = int(self.headers.get("Content-Length") or 0)
            if length > self.max_body:
                raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"request body of {length} bytes exceeds the limit "
                                   f"{self.max_body}")
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as e:
                raise invalid(f"request body is not JSON: {e}") from e
            if not isinstance(body, dict):
                raise invalid("request body must be a JSON object")
            model = self.core.model(name, version)
            signature = model.signature(body.get("signature_name", ""))
            columnar = "inputs" in body
            if columnar == ("instances" in body):
                raise invalid("give exactly one of 'inputs' (columnar) or 'instances' (rows)")
            values = body["inputs"] if columnar else _rows_to_columns(body["instances"])
            arrays = decode_json_inputs(values, model.input_specs[signature], signature,
                                        self.core.max_batch_size)
            outputs = model.run(signature, arrays)
            if columnar:
                self._reply(200, {"outputs": {k: v.tolist() for k, v in outputs.items()}})
            else:
                batch = len(next(iter(outputs.values())))
                self._reply(200, {"predictions": [{k: v[i].tolist() for k, v in outputs.items()}
                                                  for i in range(batch)]})
        except RequestError as e:
            self._reply(_HTTP.get(e.code, 500), {"error": e.message})


def _rows_to_columns(instances) -> dict:
    if not isinstance(instances, list) or not instances or \
            not all(isinstance(r, dict) for r in instances):
        raise invalid("'instances' must be a non-empty list of objects (one per example)")
    names = set(instances[0])
    if any(set(r) != names for r in instances):
        raise invalid("every instance must name the same inputs")
    try:
        return {n: np.asarray([r[n] for r in instances]).tolist() for n in names}
    except ValueError as e:
        raise invalid(f"instances are not rectangular: {e}") from e
