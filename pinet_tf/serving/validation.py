"""Request checks before a model runs, with messages that name the input and the problem.

The graph has its own asserts, but a failed assert arrives as a long TF error after the batch was
already scheduled; here every problem a client can make (missing or unexpected input, wrong dtype,
wrong shape or image size, NaN keypoints, parsing label > 11, too large a batch) is found first and
reported as INVALID_ARGUMENT, so the server never runs a bad request.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf

from pinet_tf.config import NUM_CLASSES


class RequestError(Exception):
    """A client error: a gRPC status code and a message for the client."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _shape_text(shape) -> str:
    return "[" + ",".join("B" if d is None else str(d) for d in shape) + "]"


def check_names(names, specs: dict, signature: str) -> None:
    missing = sorted(set(specs) - set(names))
    if missing:
        raise invalid(f"signature {signature!r}: missing input(s) {missing}; it takes "
                      f"{sorted(specs)}")
    unexpected = sorted(set(names) - set(specs))
    if unexpected:
        raise invalid(f"signature {signature!r}: unexpected input(s) {unexpected}; it takes "
                      f"{sorted(specs)}")


def check_dtype_shape(name: str, dtype: tf.DType, shape, spec: tf.TensorSpec) -> None:
    """dtype and shape (batch dimension free) against the signature's spec."""
    if dtype != spec.dtype:
        raise invalid(f"input {name!r} has dtype {dtype.name}, expected {spec.dtype.name}")
    expected = spec.shape.as_list()
    shape = list(shape)
    if len(shape) != len(expected) or any(e is not None and e != s
                                          for e, s in zip(expected, shape)):
        raise invalid(f"input {name!r} has shape {_shape_text(shape)}, expected "
                      f"{_shape_text(expected)}")


def check_batch(arrays: dict, max_batch: int) -> int:
    sizes = {name: int(a.shape[0]) for name, a in arrays.items()}
    first = next(iter(sizes))
    for name, size in sizes.items():
        if size != sizes[first]:
            raise invalid(f"inputs have different batch sizes: {sizes}")
    batch = sizes[first]
    if batch < 1:
        raise invalid("empty batch (batch size 0)")
    if batch > max_batch:
        raise invalid(f"batch size {batch} exceeds this server's limit {max_batch} "
                      f"(--max-batch-size); split the request")
    return batch


def check_values(name: str, array: np.ndarray) -> None:
    """Semantic checks by input-name convention (docs/contracts.md)."""
    if name.endswith("_parsing") and array.size:
        top = int(array.max())
        if top >= NUM_CLASSES:
            where = np.argwhere(array >= NUM_CLASSES)[0].tolist()
            raise invalid(f"input {name!r} has parsing label {top} (first at index {where}); "
                          f"labels must be 0..{NUM_CLASSES - 1}")
    elif name.endswith("_keypoints"):
        bad = ~np.isfinite(array)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise invalid(f"input {name!r} has a non-finite value {array[tuple(where)]} at "
                          f"index {where}; use -1 for a missing keypoint")
    elif name == "regions" and array.size and int(array.max()) > 1:
        raise invalid(f"input 'regions' must be 0/1 per class, got a value {int(array.max())}")


def decode_tensor_protos(protos, specs: dict, signature: str, max_batch: int) -> dict:
    """map<string, TensorProto> -> {name: np.ndarray}, every check above applied."""
    check_names(list(protos.keys()), specs, signature)
    arrays = {}
    for name, spec in specs.items():
        proto = protos[name]
        dtype = tf.dtypes.as_dtype(proto.dtype) if proto.dtype else None
        if dtype is None:
            raise invalid(f"input {name!r} has no dtype set")
        shape = [d.size for d in proto.tensor_shape.dim]
        check_dtype_shape(name, dtype, shape, spec)
        try:
            array = tf.make_ndarray(proto)
        except Exception as e:  # content size does not match the declared shape, ...
            raise invalid(f"input {name!r} cannot be decoded: {e}") from e
        if list(array.shape) != shape:
            raise invalid(f"input {name!r} holds {array.size} values, not the "
                          f"{int(np.prod(shape))} its shape {shape} declares")
        arrays[name] = array
    check_batch(arrays, max_batch)
    for name, array in arrays.items():
        check_values(name, array)
    return arrays


def decode_json_inputs(values: dict, specs: dict, signature: str, max_batch: int) -> dict:
    """REST "inputs" (columnar JSON lists) -> {name: np.ndarray}, the same checks."""
    check_names(list(values), specs, signature)
    arrays = {}
    for name, spec in specs.items():
        try:
            raw = np.asarray(values[name])
        except Exception as e:
            raise invalid(f"input {name!r} is not a rectangular array: {e}") from e
        if raw.dtype == object or raw.dtype.kind not in "iufb":
            raise invalid(f"input {name!r} is not a rectangular numeric array")
        target = spec.dtype.as_numpy_dtype
        if np.issubdtype(target, np.integer):
            info = np.iinfo(target)
            if raw.size and (np.any(raw != np.round(raw)) or raw.min() < info.min
                             or raw.max() > info.max):
                raise invalid(f"input {name!r} must hold integers in {info.min}..{info.max} "
                              f"({spec.dtype.name})")
        array = raw.astype(target)
        check_dtype_shape(name, spec.dtype, array.shape, spec)
        arrays[name] = array
    check_batch(arrays, max_batch)
    for name, array in arrays.items():
        check_values(name, array)
    return arrays
