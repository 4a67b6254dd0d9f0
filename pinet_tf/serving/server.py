"""An in-process gRPC server speaking TF-Serving's API for pinet-tf exports.

Implements tensorflow-serving-api's `PredictionService` (Predict, GetModelMetadata) and
`ModelService` (GetModelStatus), so clients written for `tensorflow_model_server` work unchanged
(and `pinet-tf client` works against the real binary). The real binary is not installable here;
this one serves the same BASE/<version>/ layout:

    tensorflow_model_server --port=8500 --rest_api_port=8501 \
        --model_name=pinet --model_base_path=/abs/path/to/BASE

Limits: `max_message_bytes` bounds a request on the transport (gRPC answers RESOURCE_EXHAUSTED
above it), `max_batch_size` bounds a request's batch (INVALID_ARGUMENT), `max_workers` threads
run requests and at most `max_concurrent_rpcs` are admitted at once (RESOURCE_EXHAUSTED beyond).
`stop()` finishes in-flight requests within a grace period (the CLI calls it on SIGTERM).

This module only composes: the model manager (`models.py`), the core (`core.py`), the gRPC
front end (`grpc_service.py`) and the optional REST one (`rest.py`). Ports are bound before the
model is loaded, so a port in use is an error at once, not after a model load.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent import futures

import grpc

from pinet_tf.serving.core import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SIGNATURE, Limits, \
    ServingCore
from pinet_tf.serving.grpc_service import add_services
from pinet_tf.serving.models import ModelManager

log = logging.getLogger("pinet_tf.serving")

DEFAULT_HOST = "127.0.0.1"


def check_base_path(base_path: str) -> str:
    """BASE as an absolute path; a version folder (BASE/<N>) is refused, naming its parent."""
    base_path = os.path.abspath(base_path)
    if not os.path.isdir(base_path):
        kind = "a file" if os.path.exists(base_path) else "not found"
        raise FileNotFoundError(f"model base path {base_path}: {kind}; expected a folder "
                                f"holding <version>/saved_model.pb folders")
    if os.path.exists(os.path.join(base_path, "saved_model.pb")):
        raise ValueError(f"model base path {base_path} is a version folder (it holds "
                         f"saved_model.pb); pass its parent: --model-base-path "
                         f"{os.path.dirname(base_path)}")
    return base_path


def check_port(port, what: str = "--port") -> int:
    port = int(port)
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} {port} is out of range 0..65535 (0 = any free port)")
    return port


class ModelServer:
    """gRPC (and optionally REST) serving of BASE's newest version.

    `start()` binds the ports, loads the newest version (if any) and starts answering;
    `stop(grace)` stops accepting, lets in-flight requests finish for `grace` seconds and
    stops the poller. `port=0` picks a free port (read `.port` after `start`).
    """

    def __init__(self, base_path: str, model_name: str | None = None, port: int = 8500,
                 host: str = DEFAULT_HOST, rest_port: int | None = None,
                 poll_seconds: float = 2.0, max_workers: int = 8, max_concurrent_rpcs: int = 32,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, max_batch_size: int = 16,
                 read_timeout_s: float = 10.0):
        base_path = check_base_path(base_path)
        self.host, self.port = host, check_port(port)
        self.rest_port = None if rest_port is None else check_port(rest_port, "--rest-port")
        self.limits = Limits(max_batch_size, max_message_bytes, read_timeout_s)
        self.model_name = model_name or os.path.basename(base_path.rstrip(os.sep))
        self.manager = ModelManager(base_path, poll_seconds)
        self.core = ServingCore(self.manager, self.model_name, self.limits)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers,
                                       thread_name_prefix="pinet-serving"),
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[("grpc.max_receive_message_length", self.limits.max_message_bytes),
                     ("grpc.max_send_message_length", self.limits.max_message_bytes),
                     ("grpc.so_reuseport", 0)])
        add_services(self._server, self.core)
        self._rest = None
        self._stopped = threading.Event()

    def _bind(self) -> None:
        try:
            bound = self._server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise OSError(f"cannot listen on {self.host}:{self.port} (gRPC): the port is in use "
                          f"or the host is not an address of this machine")
        self.port = bound
        if self.rest_port is not None:
            from pinet_tf.serving.rest import RestServer
            try:
                self._rest = RestServer(self.core, self.host, self.rest_port)
            except OSError as e:
                raise OSError(f"cannot listen on {self.host}:{self.rest_port} (REST): "
                              f"{e.strerror or e}") from None
            self.rest_port = self._rest.port

    def start(self) -> "ModelServer":
        try:
            self._bind()
            self.manager.start()
        except BaseException:
            self._server.stop(0)
            if self._rest is not None:
                self._rest.stop()
            self.manager.stop()
            raise
        if self.manager.current() is None:
            log.warning("no version under %s yet; waiting for BASE/<N>/saved_model.pb",
                        self.manager.base_path)
        self._server.start()
        if self._rest is not None:
            self._rest.start()
        log.info("serving model %r on gRPC %s:%d%s", self.model_name, self.host, self.port,
                 f", REST {self.host}:{self.rest_port}" if self._rest else "")
        return self

    def stop(self, grace: float = 10.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        done = self._server.stop(grace)
        if self._rest is not None:
            self._rest.stop()
        done.wait(grace + 5)
        self.manager.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until `stop()` was called (True) or the timeout passed (False)."""
        return self._stopped.wait(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(grace=1.0)
        return False


__all__ = ["DEFAULT_HOST", "DEFAULT_SIGNATURE", "ModelServer", "ServingCore"]
