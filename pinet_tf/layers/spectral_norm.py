"""Spectrally normalised convolution for the discriminators.

Why our own and not `keras.layers.SpectralNormalization`: the Keras wrapper *overwrites* the
wrapped kernel with W / sigma in every training call, so gradients never flow through sigma, and
an imported raw weight (the authors store `weight_bar` and `u`) cannot be kept as it is. Here
the raw kernel and `u` are variables, and every call uses W / sigma(W) with sigma from one power
iteration (u, v held constant in the gradient, as in Miyato et al. and the authors' code).

`u` is written back only in training by default, so inference is a pure function (safe to export
and to run twice). `update_in_eval=True` reproduces the authors' version, which runs the power
iteration on every forward pass, eval included. The computed sigma is the same either way; only
whether `u` advances differs.
"""

import keras
from keras import ops

from pinet_tf.layers.padding import SymmetricPadding2D


def _normalize(x, eps=1e-12):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


@keras.saving.register_keras_serializable(package="pinet_tf")
class SpectralConv2D(keras.layers.Layer):
    """Conv2D (symmetric zero/reflect padding, bias) with weight W / sigma(W)."""

    def __init__(self, filters, kernel_size, strides=1, padding="zero", update_in_eval=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.padding = padding
        self.update_in_eval = bool(update_in_eval)
        self.pad = SymmetricPadding2D((self.kernel_size - 1) // 2, padding, name="pad",
                                      dtype=self.dtype_policy)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, in_channels, self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.u = self.add_weight(name="u", shape=(self.filters,), trainable=False,
                                 initializer=keras.initializers.RandomNormal(stddev=1.0))

    def sigma_and_u(self):
        """One power iteration from the stored u: (sigma, new u), in the variables' dtype."""
        # In the variables' dtype (float32 under mixed precision, float64 in a float64 check).
        w = ops.reshape(ops.cast(self.kernel, self.variable_dtype), (-1, self.filters))
        u = ops.stop_gradient(ops.cast(self.u, self.variable_dtype))
        v = ops.stop_gradient(_normalize(ops.matmul(w, u)))
        wv = ops.matmul(ops.transpose(w), v)  # [Cout]
        new_u = ops.stop_gradient(_normalize(wv))
        return ops.sum(new_u * wv), new_u

    def call(self, x, training=None):
        sigma, new_u = self.sigma_and_u()
        if training or self.update_in_eval:
            self.u.assign(new_u)
        kernel = ops.cast(self.kernel / ops.cast(sigma, self.kernel.dtype), self.compute_dtype)
        y = ops.conv(self.pad(x), kernel, strides=self.strides, padding="valid")
        return y + ops.cast(self.bias, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        p = 2 * ((self.kernel_size - 1) // 2)
        out = lambda n: None if n is None else (n + p - self.kernel_size) // self.strides + 1  # noqa: E731
        return (b, out(h), out(w), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "update_in_eval": self.update_in_eval}
