"""Nearest-neighbour x2 upsampling and the gated "deconvolution" built on it.

Written as reshape + broadcast with static sizes: `keras.layers.UpSampling2D` becomes a Flex op in
TFLite and `keras.layers.Resizing` switched BatchNorm into training mode inside `model.export`
(both measured on this stack). Each pixel is repeated 2x2, as PyTorch's nearest upsample does.
"""

import keras
from keras import ops

from pinet_tf.layers.gated_conv import GatedConv2D


@keras.saving.register_keras_serializable(package="pinet_tf")
class NearestUpsample2D(keras.layers.Layer):
    """[B, H, W, C] -> [B, 2H, 2W, C], each pixel repeated 2x2. H, W and C must be static."""

    def call(self, x):
        _, h, w, c = x.shape
        if h is None or w is None or c is None:
            raise ValueError(f"NearestUpsample2D needs static H, W, C; got shape {x.shape}")
        x = ops.reshape(x, (-1, h, 1, w, 1, c))
        x = ops.broadcast_to(x, (ops.shape(x)[0], h, 2, w, 2, c))
        return ops.reshape(x, (-1, 2 * h, 2 * w, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


@keras.saving.register_keras_serializable(package="pinet_tf")
class GatedUpsample2D(keras.layers.Layer):
    """Nearest x2 then a 3x3 stride-1 `GatedConv2D` (the authors' `Gated_deconv`)."""

    def __init__(self, filters, kernel_size=3, activation="leaky_relu", batch_norm=True,
                 gated=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.gated = bool(gated)
        self.upsample = NearestUpsample2D(name="upsample", dtype=self.dtype_policy)
        self.gated_conv = GatedConv2D(filters, kernel_size, activation=activation,
                                      batch_norm=batch_norm, gated=gated, name="gated_conv",
                                      dtype=self.dtype_policy)

    def build(self, input_shape):
        self.gated_conv.build(self.upsample.compute_output_shape(input_shape))

    def call(self, x, training=None):
        return self.gated_conv(self.upsample(x), training=training)

    def compute_output_shape(self, input_shape):
        return self.gated_conv.compute_output_shape(
            self.upsample.compute_output_shape(input_shape))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "activation": self.activation,
                "batch_norm": self.batch_norm, "gated": self.gated}
