"""The serving core both front ends (gRPC `grpc_service.py`, REST `rest.py`) stand on.

* `Status` / `RequestError`: one error type for everything a client can get wrong, mapped once
  to a gRPC status code (the member's name) and an HTTP status (its value).
* `Limits`: what a request may cost (batch, bytes, reading time).
* `ServingCore`: find the served model for a ModelSpec-like (name, version, label), and
  `model_status` (TF-Serving's GetModelStatus answer, also the REST status body).

Nothing here imports grpc, so `client.py` and the REST front end do not need the gRPC server.
"""

from __future__ import annotations

import dataclasses
import enum

from pinet_tf.export.signatures import DEFAULT_SIGNATURE

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "DEFAULT_SIGNATURE", "Limits", "RequestError",
           "ServingCore", "Status", "invalid", "model_status"]


class Status(enum.Enum):
    """gRPC status code name -> HTTP status."""

    INVALID_ARGUMENT = 400
    DEADLINE_EXCEEDED = 408
    NOT_FOUND = 404
    RESOURCE_EXHAUSTED = 413
    INTERNAL = 500
    UNAVAILABLE = 503

    @property
    def http(self) -> int:
        return self.value

    def grpc_code(self):
        import grpc
        return grpc.StatusCode[self.name]


class RequestError(Exception):
    """A client error: a `Status` and a one-line message for the client."""

    def __init__(self, status: Status, message: str, http: int | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.http = status.http if http is None else int(http)


def invalid(message: str) -> RequestError:
    return RequestError(Status.INVALID_ARGUMENT, message)


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may cost the server."""

    max_batch_size: int = 16
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # gRPC transport and REST body bound
    read_timeout_s: float = 10.0  # REST: the whole request (headers and body) must arrive in it

    def __post_init__(self):
        for name in ("max_batch_size", "max_message_bytes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.read_timeout_s > 0:
            raise ValueError(f"read_timeout_s must be > 0, got {self.read_timeout_s}")


class ServingCore:
    """Finds the served model for a request; the front ends decode, this resolves and runs."""

    def __init__(self, manager, model_name: str, limits: Limits = Limits()):
        self.manager, self.model_name, self.limits = manager, model_name, limits

    @property
    def max_batch_size(self) -> int:
        return self.limits.max_batch_size

    def model(self, name: str, version: int | None = None, label: str = ""):
        if name != self.model_name:
            raise RequestError(Status.NOT_FOUND, f"model {name!r} not found; this server "
                                                 f"serves {self.model_name!r}")
        model = self.manager.current()
        if model is None:
            raise RequestError(Status.UNAVAILABLE,
                               f"model {name!r} has no loaded version yet (waiting for a "
                               f"BASE/<version>/saved_model.pb under {self.manager.base_path})")
        if label:
            raise RequestError(Status.NOT_FOUND,
                               f"version label {label!r} not found (this server has no labels)")
        if version is not None and version != model.version:
            raise RequestError(Status.NOT_FOUND, f"version {version} of model {name!r} not "
                                                 f"found; serving version {model.version}")
        return model

    def spec_model(self, spec):
        """The model a tensorflow_serving ModelSpec names."""
        version = spec.version.value if spec.HasField("version") else None
        return self.model(spec.name, version, spec.version_label)

    def model_spec(self, model, signature: str = ""):
        from tensorflow_serving.apis import model_pb2
        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature)
        spec.version.value = model.version
        return spec


_GRPC_UNKNOWN = 2  # google.rpc.Code.UNKNOWN, the error code of a version that failed to load


def model_status(core: ServingCore, name: str, version: int | None = None):
    """GetModelStatusResponse: AVAILABLE for the served version, END (with the error) for
    versions that failed to load."""
    from tensorflow_serving.apis import get_model_status_pb2

    if name != core.model_name:
        raise RequestError(Status.NOT_FOUND, f"model {name!r} not found; this server serves "
                                             f"{core.model_name!r}")
    state = get_model_status_pb2.ModelVersionStatus.State
    statuses = []
    current = core.manager.current()
    if current is not None:
        statuses.append((current.version, state.AVAILABLE, 0, ""))
    for failed, (_, error) in sorted(core.manager.failures().items()):
        statuses.append((failed, state.END, _GRPC_UNKNOWN, error))
    if version is not None:
        statuses = [s for s in statuses if s[0] == version]
    if not statuses:
        which = f"version {version} of " if version is not None else ""
        raise RequestError(Status.NOT_FOUND,
                           f"{which}model {name!r} not found (no loaded version)")
    response = get_model_status_pb2.GetModelStatusResponse()
    for number, st, code, message in statuses:
        entry = response.model_version_status.add(version=number, state=st)
        entry.status.error_code = code
        entry.status.error_message = message
    return response
