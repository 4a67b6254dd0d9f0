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

The authors' sigma gradient (`SIGMA_GRADIENTS`, `TrainConfig.spectral_norm_gradient`). In the
authors' `SpectralNorm`, `sigma = u.dot(W.mv(v))` keeps references to the module's `u` and `v`,
which every forward replaces in place; so autograd forms d sigma / dW = u v^T from the u, v the
layer holds when `backward()` runs, not from those the forward used. Their discriminator step
calls each D on the real pair, then on the fake pair, then runs one backward: the real pass's
sigma has its value from its own u, v, but its gradient from the u, v the fake pass left (one
power iteration later). In the generator step each D is called once before backward, so that
gradient is exact. `sigma_gradient_from_next_call(model)` reproduces it here: inside it, each
layer's sigma keeps its value and takes its gradient from the u, v of the next power iteration
(the ones the following call with the same kernel computes). The exact gradient differs from
theirs by about 0.1 relative in the discriminators' first updates (`docs/results/parity.md`).
"""

import contextlib

import keras
from keras import ops

from pinet_tf.layers.padding import SymmetricPadding2D


#: "exact": d sigma / dW from the u, v of the call; "authors": as the authors' code forms it.
SIGMA_GRADIENTS = ("exact", "authors")


def _normalize(x, eps=1e-12):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + eps)


@contextlib.contextmanager
def sigma_gradient_from_next_call(model):
    """Calls of `model` inside this block take d sigma / dW from the next power iteration's u, v
    (what the authors' code computes for a D call followed by another call before backward).
    Python state read when the call is traced: wrap the call site, not the traced function."""
    layers, stack = [], [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, SpectralConv2D):
            layers.append(layer)
        stack.extend(getattr(layer, "layers", []))
    for layer in layers:
        layer.sigma_gradient_from_next = True
    try:
        yield
    finally:
        for layer in layers:
            layer.sigma_gradient_from_next = False


def _power_step(w, u):
    """(sigma = u'.(W^T v), u') for v = n(W u), u' = n(W^T v); u, v, u' held constant in the
    gradient, so d sigma / dW = v u'^T. w: [k*k*Cin, Cout]."""
    v = ops.stop_gradient(_normalize(ops.matmul(w, ops.stop_gradient(u))))
    wv = ops.matmul(ops.transpose(w), v)  # [Cout]
    new_u = ops.stop_gradient(_normalize(wv))
    return ops.sum(new_u * wv), new_u


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
        self.sigma_gradient_from_next = False  # set by `sigma_gradient_from_next_call`
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

    def sigma_and_u(self, gradient_from_next=False):
        """One power iteration from the stored u: (sigma, new u), in the variables' dtype.
        `gradient_from_next`: sigma's value as it is, its gradient wrt the kernel from the u, v
        of one more iteration (the authors' real pass, module docstring)."""
        # In the variables' dtype (float32 under mixed precision, float64 in a float64 check).
        w = ops.reshape(ops.cast(self.kernel, self.variable_dtype), (-1, self.filters))
        sigma, new_u = _power_step(w, ops.cast(self.u, self.variable_dtype))
        if gradient_from_next:
            later, _ = _power_step(w, new_u)
            sigma = ops.stop_gradient(sigma - later) + later
        return sigma, new_u

    def call(self, x, training=None):
        sigma, new_u = self.sigma_and_u(self.sigma_gradient_from_next)
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
