"""Input validation with messages that name the expected and the received shape.

Keras casts inputs silently, so a uint8 image (0..255) fed where [-1, 1] floats are expected
would run and return garbage; entry points call `check_inputs` first.
"""

import numpy as np


def check_inputs(model, inputs: dict) -> None:
    """Raise ValueError unless `inputs` has every input of `model` with the right shape/dtype."""
    if not isinstance(inputs, dict):
        raise ValueError(f"{model.name} takes a dict of named inputs, got {type(inputs).__name__}")
    for spec in model.inputs:
        name = spec.name
        if name not in inputs:
            raise ValueError(f"{model.name}: missing input {name!r}; it takes "
                             f"{sorted(t.name for t in model.inputs)}")
        value = inputs[name]
        shape = tuple(value.shape)
        expected = tuple(spec.shape)
        if len(shape) != len(expected) or any(
                e is not None and e != s for e, s in zip(expected, shape)):
            wanted = ", ".join("B" if e is None else str(e) for e in expected)
            raise ValueError(f"{model.name}: input {name!r} has shape {shape}, expected "
                             f"({wanted})")
        dtype = np.dtype(getattr(value.dtype, "as_numpy_dtype", value.dtype))
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"{model.name}: input {name!r} has dtype {dtype}, expected a float "
                             f"type (images in [-1, 1], heatmaps and one-hot maps in [0, 1])")
