"""The optional REST front end, following TF-Serving's REST API (JSON, columnar or row format).

    GET  /v1/models/NAME[/versions/N]             -> model status
    GET  /v1/models/NAME[/versions/N]/metadata    -> signature defs
    POST /v1/models/NAME[/versions/N]:predict     {"signature_name": ..., "inputs": {...}}
                                                  or {"instances": [{...}, ...]}

Every answer is JSON, errors included ({"error": "..."} with a 4xx status for anything a client
can get wrong). What a request may cost is bounded before it is paid:

* the whole request (headers and body) must arrive within `Limits.read_timeout_s`; a watchdog
  closes the connection after it, so no client can hold a handler thread longer (408 when the
  body is late);
* `Content-Length` is required, must be an integer, and at most the body a valid request of
  the served model needs at the batch limit (32 bytes per number, capped by
  `max_message_bytes`): 411 / 400 / 413 before a byte of the body is read;
* the body's number of JSON values (its commas) is checked before it is parsed, so parsing
  never builds more Python objects than a valid request would; nesting deeper than Python's
  parser allows is a 400.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


from pinet_tf.export.savedmodel import MAX_VERSION as _MAX_VERSION
from pinet_tf.serving.core import RequestError, Status, invalid, model_status
from pinet_tf.serving.validation import decode_json_inputs, max_values

log = logging.getLogger("pinet_tf.serving")

_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/([0-9]+))?(/metadata|:predict)?$")
#: JSON text per number a body may use on average (digits, separator, indentation).
BYTES_PER_VALUE = 32
_SLACK = 64 * 1024


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A connection-level failure (client gone, reset): one line, no traceback."""
        import sys
        kind, error = sys.exc_info()[:2]
        log.warning("REST connection from %s failed: %s: %s", client_address[0],
                    kind.__name__ if kind else "?", error)


class RestServer:
    def __init__(self, core, host: str, port: int):
        handler = type("Handler", (_Handler,), {"core": core,
                                                "timeout": core.limits.read_timeout_s})
        self._httpd = _HTTPServer((host, port), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest",
                                        daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    core = None
    timeout = 10.0  # socket timeout of every read (StreamRequestHandler)
    default_request_version = "HTTP/1.0"  # answer malformed request lines with headers too

    def setup(self):
        super().setup()
        self._deadline = time.monotonic() + self.timeout
        self._watchdog = threading.Timer(self.timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self):
        """The request did not arrive in time: unblock the reading thread (its read returns
        end-of-file, and it can still write the 408)."""
        try:
            self.connection.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def _received(self):
        """The request is in: from here on only the model's own time counts."""
        self._watchdog.cancel()

    def finish(self):
        self._watchdog.cancel()
        try:
            super().finish()  # flushes the answer
            self._drain()
        except OSError:
            pass

    def _drain(self, most: int = 1 << 20, seconds: float = 1.0):
        """Read (a bounded part of) what a refused client still sends, so that closing does
        not reset the connection before the client has read the answer."""
        self.connection.shutdown(socket.SHUT_WR)
        end = time.monotonic() + seconds
        while most > 0 and time.monotonic() < end:
            self.connection.settimeout(max(0.01, end - time.monotonic()))
            chunk = self.connection.recv(min(most, 65536))
            if not chunk:
                break
            most -= len(chunk)

    def log_message(self, *args):  # quiet: the gRPC side logs what matters
        pass

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (bad request line, headers) as JSON too."""
        try:
            self._reply(code, {"error": message or explain or f"HTTP {code}"})
        except OSError:
            pass
        self.close_connection = True

    def _reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _answer(self, handle):
        try:
            try:
                status, body = 200, handle()
            except RequestError as e:
                status, body = e.http, {"error": e.message}
            except OSError:  # the client went away: nothing to answer
                self.close_connection = True
                return
            except Exception as e:  # not a client error: one line in the log, 500
                log.error("REST %s %s failed: %s: %s", self.command, self.path,
                          type(e).__name__, e)
                status, body = 500, {"error": f"internal error: {type(e).__name__}: {e}"}
            self._reply(status, body)
        except OSError:  # the client is gone before it read the answer
            self.close_connection = True

    def _route(self):
        match = _PATH.match(self.path)
        if not match:
            raise RequestError(Status.NOT_FOUND, f"no such endpoint {self.path!r}")
        name, version, action = match.groups()
        if version and (len(version) > 19 or int(version) > _MAX_VERSION):
            raise invalid(f"version {version[:40]}{'...' if len(version) > 40 else ''} is out "
                          f"of range (versions are integers up to {_MAX_VERSION})")
        return name, int(version) if version else None, action or ""

    def do_GET(self):
        self._received()
        self._answer(self._get)

    def _get(self):
        from google.protobuf import json_format

        name, version, action = self._route()
        if action == ":predict":
            raise invalid("predict needs POST")
        if action == "/metadata":
            model = self.core.model(name, version)
            sigs = {k: json_format.MessageToDict(v) for k, v in model.signature_defs.items()}
            return {"model_spec": {"name": name, "version": str(model.version)},
                    "metadata": {"signature_def": {"signature_def": sigs}}}
        return json_format.MessageToDict(model_status(self.core, name, version))

    def do_POST(self):
        self._answer(self._post)

    def _body_limits(self, model):
        values = max_values(model.input_specs, self.core.max_batch_size)
        return min(self.core.limits.max_message_bytes, BYTES_PER_VALUE * values + _SLACK), values

    def _read_body(self, model) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(Status.INVALID_ARGUMENT, "chunked request bodies are not "
                               "accepted; send a Content-Length", http=411)
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise RequestError(Status.INVALID_ARGUMENT, "missing Content-Length (a predict "
                               "request needs a JSON body)", http=411)
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()):
            raise invalid(f"Content-Length must be a non-negative integer, got {raw[:40]!r}")
        limit, _ = self._body_limits(model)
        if len(raw.lstrip("0")) > 19:  # beyond int64 (thousands of digits): never int() them
            raise RequestError(Status.RESOURCE_EXHAUSTED,
                               f"request body of {len(raw)}-digit length exceeds this server's "
                               f"limit {limit} for model {self.core.model_name!r}")
        length = int(raw.lstrip("0") or "0")
        if length == 0:
            raise invalid("empty request body; expected a JSON object with 'inputs' or "
                          "'instances'")
        if length > limit:
            raise RequestError(Status.RESOURCE_EXHAUSTED,
                               f"request body of {length} bytes exceeds this server's limit "
                               f"{limit} for model {self.core.model_name!r}")
        chunks, remaining = [], length
        while remaining:
            left = self._deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(remaining, 1 << 20))
            except (TimeoutError, socket.timeout):
                chunk = None
            if not chunk:
                raise RequestError(Status.DEADLINE_EXCEEDED,
                                   f"request body incomplete: {length - remaining} of {length} "
                                   f"bytes arrived within {self.timeout:g} s")
            chunks.append(chunk)
            remaining -= len(chunk)
        self._received()
        return b"".join(chunks)

    def _post(self):
        name, version, action = self._route()
        if action != ":predict":
            raise RequestError(Status.NOT_FOUND, f"POST {self.path!r}: use :predict")
        model = self.core.model(name, version)
        data = self._read_body(model)
        _, values = self._body_limits(model)
        if data.count(b",") > values + _SLACK:
            raise RequestError(Status.RESOURCE_EXHAUSTED,
                               f"request body holds more than {values} values, the most a "
                               f"request at batch {self.core.max_batch_size} can need")
        try:
            body = json.loads(data)
        except RecursionError:
            raise invalid("request body is nested too deeply to be a predict request") from None
        except ValueError as e:
            raise invalid(f"request body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise invalid(f"request body must be a JSON object, got {type(body).__name__}")
        signature = model.signature(body.get("signature_name", ""))
        columnar = "inputs" in body
        if columnar == ("instances" in body):
            raise invalid("give exactly one of 'inputs' (columnar) or 'instances' (rows)")
        columns = body["inputs"] if columnar else _rows_to_columns(body["instances"])
        arrays = decode_json_inputs(columns, model.input_specs[signature], signature,
                                    self.core.max_batch_size)
        outputs = model.run(signature, arrays)
        if columnar:
            return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
        batch = len(next(iter(outputs.values())))
        return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()}
                                for i in range(batch)]}


def _rows_to_columns(instances) -> dict:
    if not isinstance(instances, list) or not instances or \
            not all(isinstance(r, dict) for r in instances):
        raise invalid("'instances' must be a non-empty list of objects (one per example)")
    names = set(instances[0])
    if any(set(r) != names for r in instances):
        raise invalid("every instance must name the same inputs")
    return {n: [r[n] for r in instances] for n in names}
