"""Request checks before a model runs, with messages that name the input and the problem.

Every input is checked against its `pinet_tf.export.signatures.InputSpec` (the table the
exported graph's own asserts come from): names, dtype, shape, batch size, and valid values
(parsing labels 0..11, finite keypoints, 0/1 regions). Everything that can be checked from a
request's metadata is checked before any array is built, so a refused request costs the server
no more memory than its own bytes:

* gRPC: a TensorProto's dtype enum, declared shape, batch and element count are compared with
  the real length of `tensor_content` (or of the dtype's `*_val` field) first; the array is
  then a view of those bytes, never `tf.make_ndarray`'s expansion of a declared shape.
* REST: the parsed JSON's nesting is walked along its first elements (depth bounded by the
  input's rank) to get the declared shape, checked, and only then converted.
"""

from __future__ import annotations

import math

import numpy as np

from pinet_tf.serving.core import invalid

#: numpy dtype name -> (TensorProto dtype enum name, the repeated field carrying its values).
_PROTO_TYPES = {"uint8": ("DT_UINT8", "int_val"), "int8": ("DT_INT8", "int_val"),
                "int16": ("DT_INT16", "int_val"), "uint16": ("DT_UINT16", "int_val"),
                "int32": ("DT_INT32", "int_val"), "int64": ("DT_INT64", "int64_val"),
                "float16": ("DT_HALF", "half_val"), "float32": ("DT_FLOAT", "float_val"),
                "float64": ("DT_DOUBLE", "double_val"), "bool": ("DT_BOOL", "bool_val")}
_NUMPY_NAMES = {enum: numpy for numpy, (enum, _) in _PROTO_TYPES.items()}
_VALUE_FIELDS = ("half_val", "float_val", "double_val", "int_val", "string_val", "scomplex_val",
                 "int64_val", "bool_val", "dcomplex_val", "resource_handle_val", "variant_val",
                 "uint32_val", "uint64_val", "float8_val")


def _shape_text(shape) -> str:
    return "[" + ",".join("B" if d is None else str(d) for d in shape) + "]"


def _expected(spec) -> list:
    return [None] + list(spec.shape)


def check_names(names, specs: dict, signature: str) -> None:
    missing = sorted(set(specs) - set(names))
    if missing:
        raise invalid(f"signature {signature!r}: missing input(s) {missing}; it takes "
                      f"{sorted(specs)}")
    unexpected = sorted(set(names) - set(specs))
    if unexpected:
        raise invalid(f"signature {signature!r}: unexpected input(s) {unexpected}; it takes "
                      f"{sorted(specs)}")


def check_shape(spec, shape) -> None:
    """Shape (batch dimension free) against the spec."""
    expected, shape = _expected(spec), list(shape)
    if len(shape) != len(expected) or any(e is not None and e != s
                                          for e, s in zip(expected, shape)):
        raise invalid(f"input {spec.name!r} has shape {_shape_text(shape)}, expected "
                      f"{_shape_text(expected)}")


def check_batch(shapes: dict, max_batch: int) -> int:
    """Every input's batch size equal, 1..max_batch (from shapes alone)."""
    sizes = {name: int(shape[0]) for name, shape in shapes.items()}
    for name, size in sizes.items():
        if size > max_batch:
            raise invalid(f"batch size {size} exceeds this server's limit {max_batch} "
                          f"(input {name!r}; --max-batch-size); split the request")
    if len(set(sizes.values())) > 1:
        raise invalid(f"inputs have different batch sizes: {sizes}")
    batch = next(iter(sizes.values()))
    if batch < 1:
        raise invalid("empty batch (batch size 0)")
    return batch


def check_values(spec, array: np.ndarray) -> None:
    """The spec's valid values: range and finiteness."""
    if not array.size:
        return
    if spec.finite:
        bad = ~np.isfinite(array)
        if bad.any():
            where = np.argwhere(bad)[0].tolist()
            raise invalid(f"input {spec.name!r} has a non-finite value {array[tuple(where)]} at "
                          f"index {where}; {spec.rule}")
    for bound, outside in ((spec.low, lambda a: a < spec.low),
                           (spec.high, lambda a: a > spec.high)):
        if bound is not None:
            bad = outside(array)
            if bad.any():
                where = np.argwhere(bad)[0].tolist()
                raise invalid(f"input {spec.name!r} has value {array[tuple(where)]} at index "
                              f"{where}; {spec.rule}")


def max_values(specs_by_signature: dict, max_batch: int) -> int:
    """The most numbers a valid request can carry (largest signature at the batch limit)."""
    return max_batch * max((sum(math.prod(d or 1 for d in s.shape) for s in specs.values())
                            for specs in specs_by_signature.values()), default=0)


# -- gRPC ---------------------------------------------------------------------------------------

def _proto_shape(name: str, proto, spec) -> list:
    """dtype and shape from a TensorProto's metadata alone (nothing materialised)."""
    from tensorflow.core.framework import types_pb2

    enum_name, _ = _PROTO_TYPES[spec.dtype]
    if proto.dtype not in types_pb2.DataType.values():
        raise invalid(f"input {name!r} has an unknown dtype enum {proto.dtype}; expected "
                      f"{types_pb2.DataType.Value(enum_name)} ({spec.dtype})")
    if proto.dtype != types_pb2.DataType.Value(enum_name):
        got = types_pb2.DataType.Name(proto.dtype)
        got = _NUMPY_NAMES.get(got, "unset (DT_INVALID)" if got == "DT_INVALID" else got)
        raise invalid(f"input {name!r} has dtype {got}, expected {spec.dtype}")
    if proto.tensor_shape.unknown_rank:
        raise invalid(f"input {name!r} has an unknown rank; expected shape "
                      f"{_shape_text(_expected(spec))}")
    shape = [int(d.size) for d in proto.tensor_shape.dim]
    if any(d < 0 for d in shape):
        raise invalid(f"input {name!r} declares a negative dimension in its shape {shape}")
    check_shape(spec, shape)
    return shape


def _proto_array(name: str, proto, spec, shape) -> np.ndarray:
    """The array a TensorProto carries, after its data length matched the declared shape."""
    _, field = _PROTO_TYPES[spec.dtype]
    count = math.prod(shape)
    dtype = np.dtype(spec.dtype)
    carried = [f for f in _VALUE_FIELDS if len(getattr(proto, f))]
    if proto.tensor_content:
        if carried:
            raise invalid(f"input {name!r} carries both tensor_content and {carried[0]}")
        if len(proto.tensor_content) != count * dtype.itemsize:
            raise invalid(f"input {name!r} carries {len(proto.tensor_content)} bytes of "
                          f"tensor_content, not the {count * dtype.itemsize} its shape {shape} "
                          f"declares ({count} x {dtype.itemsize}-byte {spec.dtype})")
        return np.frombuffer(proto.tensor_content, dtype.newbyteorder("<")).astype(
            dtype).reshape(shape)
    if carried not in ([field], []) or len(getattr(proto, field)) != count:
        got = ", ".join(f"{len(getattr(proto, f))} in {f}" for f in carried) or "no values"
        raise invalid(f"input {name!r} carries {got}, not the {count} {field} values its shape "
                      f"{shape} declares")
    values = np.asarray(getattr(proto, field))
    if field == "int_val" and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise invalid(f"input {name!r} has int_val values outside {info.min}..{info.max} "
                          f"({spec.dtype})")
    return values.astype(dtype).reshape(shape)


def decode_tensor_protos(protos, specs: dict, signature: str, max_batch: int) -> dict:
    """map<string, TensorProto> -> {name: np.ndarray}, every check above applied."""
    check_names(list(protos.keys()), specs, signature)
    shapes = {name: _proto_shape(name, protos[name], spec) for name, spec in specs.items()}
    check_batch(shapes, max_batch)
    arrays = {name: _proto_array(name, protos[name], spec, shapes[name])
              for name, spec in specs.items()}
    for name, spec in specs.items():
        check_values(spec, arrays[name])
    return arrays


# -- REST ---------------------------------------------------------------------------------------

def _json_shape(name: str, value, rank: int) -> list:
    """The shape a nested JSON list declares along its first elements (at most rank deep)."""
    if not isinstance(value, list):
        raise invalid(f"input {name!r} must be a nested list of numbers, got "
                      f"{type(value).__name__}")
    shape, node = [], value
    while isinstance(node, list):
        if len(shape) == rank:
            raise invalid(f"input {name!r} is nested deeper than its rank {rank}")
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    return shape


def decode_json_inputs(values, specs: dict, signature: str, max_batch: int) -> dict:
    """REST "inputs" (columnar JSON lists) -> {name: np.ndarray}, the same checks."""
    if not isinstance(values, dict):
        raise invalid(f"'inputs' must be an object mapping input names to nested lists, got "
                      f"{type(values).__name__}")
    check_names(list(values), specs, signature)
    shapes = {}
    for name, spec in specs.items():
        shapes[name] = _json_shape(name, values[name], len(spec.shape) + 1)
        check_shape(spec, shapes[name])
    check_batch(shapes, max_batch)
    arrays = {}
    for name, spec in specs.items():
        try:
            raw = np.asarray(values[name])
        except (ValueError, TypeError) as e:
            raise invalid(f"input {name!r} is not a rectangular array of numbers "
                          f"({str(e).splitlines()[0]})") from e
        if raw.dtype.kind not in "iufb" or list(raw.shape) != shapes[name]:
            raise invalid(f"input {name!r} is not a rectangular array of numbers of shape "
                          f"{_shape_text(shapes[name])}")
        target = np.dtype(spec.dtype)
        if np.issubdtype(target, np.integer) and raw.size:
            info = np.iinfo(target)
            if (raw.dtype.kind == "f" and not np.all(np.isfinite(raw))) \
                    or np.any(raw != np.round(raw)) or raw.min() < info.min \
                    or raw.max() > info.max:
                raise invalid(f"input {name!r} must hold integers in {info.min}..{info.max} "
                              f"({spec.dtype})")
        arrays[name] = raw.astype(target)
    for name, spec in specs.items():
        check_values(spec, arrays[name])
    return arrays
