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
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from pinet_tf.serving.models import DEFAULT_SIGNATURE, ModelManager
from pinet_tf.serving.validation import RequestError, decode_tensor_protos

log = logging.getLogger("pinet_tf.serving")

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServingCore:
    """What both the gRPC and the REST front ends do: find the model, check, run."""

    def __init__(self, manager: ModelManager, model_name: str, max_batch_size: int = 16):
        self.manager, self.model_name = manager, model_name
        self.max_batch_size = int(max_batch_size)

    def model(self, name: str, version: int | None = None, label: str = ""):
        if name != self.model_name:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"model {name!r} not found; this server serves "
                               f"{self.model_name!r}")
        model = self.manager.current()
        if model is None:
            raise RequestError(grpc.StatusCode.UNAVAILABLE,
                               f"model {name!r} has no loaded version yet (waiting for a "
                               f"BASE/<version>/saved_model.pb under {self.manager.base_path})")
        if label:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"version label {label!r} not found (this server has no labels)")
        if version is not None and version != model.version:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"version {version} of model {name!r} not found; serving "
                               f"version {model.version}")
        return model

    def spec_model(self, spec):
        version = spec.version.value if spec.HasField("version") else None
        return self.model(spec.name, version, spec.version_label)

    def model_spec(self, model, signature: str = "") -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature)
        spec.version.value = model.version
        return spec


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServingCore):
        self.core = core

    def Predict(self, request, context):
        with _status(context):
            model = self.core.spec_model(request.model_spec)
            signature = model.signature(request.model_spec.signature_name)
            arrays = decode_tensor_protos(request.inputs, model.input_specs[signature],
                                          signature, self.core.max_batch_size)
            outputs = model.run(signature, arrays, list(request.output_filter))
            response = predict_pb2.PredictResponse(
                model_spec=self.core.model_spec(model, signature))
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response
        return predict_pb2.PredictResponse()

    def GetModelMetadata(self, request, context):
        with _status(context):
            model = self.core.spec_model(request.model_spec)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"metadata_field must be ['signature_def'], got {fields}")
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for name, sig in model.signature_defs.items():
                signature_map.signature_def[name].CopyFrom(sig)
            response = get_model_metadata_pb2.GetModelMetadataResponse(
                model_spec=self.core.model_spec(model))
            response.metadata["signature_def"].Pack(signature_map)
            return response
        return get_model_metadata_pb2.GetModelMetadataResponse()


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServingCore):
        self.core = core

    def GetModelStatus(self, request, context):
        with _status(context):
            return model_status(self.core, request.model_spec)
        return get_model_status_pb2.GetModelStatusResponse()


def model_status(core: ServingCore, spec) -> get_model_status_pb2.GetModelStatusResponse:
    """AVAILABLE for the served version; END with the error for versions that failed to load."""
    if spec.name != core.model_name:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"model {spec.name!r} not found; this "
                           f"server serves {core.model_name!r}")
    wanted = spec.version.value if spec.HasField("version") else None
    state = get_model_status_pb2.ModelVersionStatus.State
    statuses = []
    current = core.manager.current()
    if current is not None:
        statuses.append((current.version, state.AVAILABLE, 0, ""))
    for version, (_, error) in sorted(core.manager.failures().items()):
        statuses.append((version, state.END, grpc.StatusCode.UNKNOWN.value[0], error))
    if wanted is not None:
        statuses = [s for s in statuses if s[0] == wanted]
    if not statuses:
        which = f"version {wanted} of " if wanted is not None else ""
        raise RequestError(grpc.StatusCode.NOT_FOUND,
                           f"{which}model {spec.name!r} not found (no loaded version)")
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, st, code, message in statuses:
        entry = response.model_version_status.add(version=version, state=st)
        entry.status.error_code = code
        entry.status.error_message = message
    return response


class _status:
    """Context manager: a RequestError becomes the RPC's status; anything else is INTERNAL."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None:
            return False
        if isinstance(error, RequestError):
            self.context.set_code(error.code)
            self.context.set_details(error.message)
        else:
            log.exception("request failed", exc_info=(kind, error, tb))
            self.context.set_code(grpc.StatusCode.INTERNAL)
            self.context.set_details(f"{type(error).__name__}: {error}")
        return True  # the caller returns an empty response; the status carries the error


class ModelServer:
    """gRPC (and optionally REST) serving of BASE's newest version.

    `start()` loads the newest version (if any) and starts listening; `stop(grace)` stops
    accepting, lets in-flight requests finish for `grace` seconds and stops the poller.
    `port=0` picks a free port (read `.port` after `start`).
    """

    def __init__(self, base_path: str, model_name: str | None = None, port: int = 8500,
                 host: str = "0.0.0.0", rest_port: int | None = None,
                 poll_seconds: float = 2.0, max_workers: int = 8, max_concurrent_rpcs: int = 32,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, max_batch_size: int = 16):
        base_path = os.path.abspath(base_path)
        if not os.path.isdir(base_path):
            raise FileNotFoundError(f"model base path {base_path} is not a directory")
        self.model_name = model_name or os.path.basename(base_path.rstrip(os.sep))
        self.manager = ModelManager(base_path, poll_seconds)
        self.core = ServingCore(self.manager, self.model_name, max_batch_size)
        self.host, self.port, self.rest_port = host, int(port), rest_port
        self.max_message_bytes = int(max_message_bytes)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers,
                                       thread_name_prefix="pinet-serving"),
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[("grpc.max_receive_message_length", self.max_message_bytes),
                     ("grpc.max_send_message_length", self.max_message_bytes),
                     ("grpc.so_reuseport", 0)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.core), self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.core), self._server)
        self._rest = None
        self._stopped = threading.Event()

    def start(self) -> "ModelServer":
        self.manager.start()
        if self.manager.current() is None:
            log.warning("no version under %s yet; waiting for BASE/<N>/saved_model.pb",
                        self.manager.base_path)
        bound = self._server.add_insecure_port(f"{self.host}:{self.port}")
        if bound == 0:
            raise OSError(f"cannot bind gRPC port {self.host}:{self.port}")
        self.port = bound
        self._server.start()
        if self.rest_port is not None:
            from pinet_tf.serving.rest import RestServer
            self._rest = RestServer(self.core, self.host, self.rest_port, self.max_message_bytes)
            self.rest_port = self._rest.port
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


__all__ = ["DEFAULT_SIGNATURE", "ModelServer", "ServingCore"]
