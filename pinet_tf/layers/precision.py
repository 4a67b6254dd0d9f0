"""Output dtypes under mixed precision: at least float32, never narrower than the policy.

Model outputs (the image, the parsing logits, the D scores) and the losses on them run in
float32 under mixed precision (float16 / bfloat16 compute), and stay float64 under a float64
policy (the parity check against the authors' step, `tests/training/test_parity.py`): a fixed
float32 cast there rounds a float64 run to float32 precision at every output.
"""

import keras
from keras import ops


def output_dtype(policy=None):
    """"float32", or "float64" when the (global) policy computes in float64."""
    policy = keras.dtype_policies.get(policy) if policy is not None \
        else keras.config.dtype_policy()
    return keras.backend.result_type(policy.compute_dtype, "float32")


def wide(x):
    """x in float32, or float64 if it already is (float16 / bfloat16 are widened)."""
    x = ops.convert_to_tensor(x)
    return ops.cast(x, keras.backend.result_type(x.dtype, "float32"))
