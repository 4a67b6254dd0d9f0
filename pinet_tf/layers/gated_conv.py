"""Gated convolution (Yu et al. 2019), the building block of both PINet generators.

    y = act(conv_f(x)) * sigmoid(conv_g(x)),  then BatchNorm(y)

`act` is LeakyReLU(0.2) (none on the output layers). The feature and gate convolutions are one
Conv2D with 2*filters outputs split in two: the same parameters as two convolutions (so the
authors' `gated_conv` / `mask_conv` weights map onto the two halves of the kernel) and one
larger, faster matrix product. BatchNorm uses PyTorch's numerics (eps 1e-5, momentum 0.1 in
PyTorch terms) so that the released checkpoint imports exactly.

`gated=False` makes the same layer a plain convolution of the same geometry and output width,
`y = act(conv(x))` then BatchNorm: the paper's "vanilla convolution" ablation (Table 3, "w/ VC"),
selected for a whole model by `ModelConfig.convolution = "vanilla"`.

`record_gates()` collects, while it is active and the model runs eagerly, the gate activation
`sigmoid(conv_g(x))` of every gated layer in call order (paper Fig. 8; `pinet_tf.models.gates`).
"""

import contextlib

import keras
from keras import ops

from pinet_tf.layers.padding import SymmetricPadding2D

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
LEAKY_SLOPE = 0.2


def _leaky_relu(x):
    """LeakyReLU(0.2). TF's fused op holds its slope as a float32 attribute (0.2000000030), so
    in a float64 run (the parity check against the authors' step) it is written out with a
    float64 slope; same gradient (slope where x <= 0), float32 and narrower keep the fused op."""
    if keras.backend.standardize_dtype(x.dtype) == "float64":
        return ops.where(x > 0, x, ops.multiply(x, ops.convert_to_tensor(LEAKY_SLOPE, "float64")))
    return ops.leaky_relu(x, negative_slope=LEAKY_SLOPE)


_gate_sinks = []  # stack of lists that record (layer, gate) while `record_gates()` is active


@contextlib.contextmanager
def record_gates():
    """Yield a list that receives `(layer, gate)` for every gated layer called inside the block.

    `gate` is the sigmoid of the gate branch, [B, H, W, filters]. Only eager calls record (a traced
    graph has no values to give).
    """
    sink = []
    _gate_sinks.append(sink)
    try:
        yield sink
    finally:
        _gate_sinks.remove(sink)


@keras.saving.register_keras_serializable(package="pinet_tf")
class GatedConv2D(keras.layers.Layer):
    """Gated conv with symmetric zero or reflect padding, optional BatchNorm.

    Args:
        filters: output channels.
        kernel_size: square kernel size (odd).
        strides: 1 or 2.
        dilation_rate: dilation of both convolutions.
        padding: "zero" or "reflect"; the pad is dilation * (kernel_size - 1) // 2 per side.
        activation: "leaky_relu" or None (the output layers).
        batch_norm: BatchNorm after the gating (the authors' code has it on every layer).
        gated: False gives a plain convolution (no gate branch): the vanilla-convolution ablation.
    """

    def __init__(self, filters, kernel_size=3, strides=1, dilation_rate=1, padding="zero",
                 activation="leaky_relu", batch_norm=True, gated=True, **kwargs):
        super().__init__(**kwargs)
        if activation not in ("leaky_relu", None):
            raise ValueError(f"activation must be 'leaky_relu' or None, got {activation!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.dilation_rate = int(dilation_rate)
        self.padding = padding
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.gated = bool(gated)
        self.pad = SymmetricPadding2D(self.dilation_rate * (self.kernel_size - 1) // 2, padding,
                                      name="pad", dtype=self.dtype_policy)
        self.conv = keras.layers.Conv2D(
            (2 if self.gated else 1) * self.filters, self.kernel_size, strides=self.strides,
            dilation_rate=self.dilation_rate, padding="valid", name="conv",
            dtype=self.dtype_policy)
        self.bn = (keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM,
                                                   name="bn", dtype=self.dtype_policy)
                   if self.batch_norm else None)

    def build(self, input_shape):
        padded = self.pad.compute_output_shape(input_shape)
        self.conv.build(padded)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(padded)[:-1] + (self.filters,))

    def call(self, x, training=None):
        y = self.conv(self.pad(x))
        if self.gated:
            # split, not two slices: its gradient is one concat instead of two full-width
            # zero-filled scatters plus an add (5% of a G gradient step, benchmarks/README.md)
            y, gate = ops.split(y, 2, axis=-1)
            gate = ops.sigmoid(gate)
            for sink in _gate_sinks:
                sink.append((self, gate))
        if self.activation == "leaky_relu":
            y = _leaky_relu(y)
        if self.gated:
            y = y * gate
        if self.bn is not None:
            y = self.bn(y, training=training)
        return y

    def compute_output_shape(self, input_shape):
        shape = self.conv.compute_output_shape(self.pad.compute_output_shape(input_shape))
        return shape[:-1] + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "dilation_rate": self.dilation_rate, "padding": self.padding,
                "activation": self.activation, "batch_norm": self.batch_norm,
                "gated": self.gated}
