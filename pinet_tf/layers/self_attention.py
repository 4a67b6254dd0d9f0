"""SAGAN self-attention as the authors wrote it (no 1/sqrt(d) scaling).

    q = x Wq (C/8), k = x Wk (C/8), v = x Wv (C); A = softmax_keys(q k^T); y = gamma * A v + x

`gamma` starts at 0, so a new block is the identity. The softmax runs in float32 under mixed
precision: an N x N logit matrix (N = 2816 at 64x44) overflows float16 easily.
"""

import keras
from keras import ops

from pinet_tf.layers.precision import wide


@keras.saving.register_keras_serializable(package="pinet_tf")
class SelfAttention(keras.layers.Layer):
    """Self-attention over all H*W positions of an NHWC feature map (row-major order)."""

    def __init__(self, reduction=8, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.reduction:
            raise ValueError(
                f"SelfAttention needs a static channel count divisible by {self.reduction}, "
                f"got input shape {input_shape}")
        inner = channels // self.reduction
        self.query = keras.layers.Dense(inner, name="query", dtype=self.dtype_policy)
        self.key = keras.layers.Dense(inner, name="key", dtype=self.dtype_policy)
        self.value = keras.layers.Dense(channels, name="value", dtype=self.dtype_policy)
        for dense in (self.query, self.key, self.value):
            dense.build((None, channels))
        self.gamma = self.add_weight(name="gamma", shape=(1,), initializer="zeros")

    def logits(self, flat):
        """[B, N, N] query-key logits (float32, or float64) of positions flattened to [B, N, C]:
        the attention is their softmax over the last axis."""
        q, k = self.query(flat), self.key(flat)
        return ops.matmul(wide(q), ops.transpose(wide(k), (0, 2, 1)))

    def call(self, x):
        _, h, w, c = x.shape
        flat = ops.reshape(x, (-1, h * w, c))
        v = self.value(flat)
        attention = ops.cast(ops.softmax(self.logits(flat), axis=-1), v.dtype)
        out = ops.reshape(ops.matmul(attention, v), (-1, h, w, c))
        return ops.cast(self.gamma, out.dtype) * out + x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}
