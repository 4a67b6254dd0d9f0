"""Explicit symmetric padding (zero or reflect).

Keras ``padding="same"`` pads only bottom/right for even sizes at stride 2, which differs from
PyTorch's symmetric padding and so from the authors' checkpoint; the 7x7 input layers of the
official model use reflection padding. Padding explicitly and convolving with "valid" matches both.
"""

import keras
from keras import ops

MODES = ("zero", "reflect")


@keras.saving.register_keras_serializable(package="pinet_tf")
class SymmetricPadding2D(keras.layers.Layer):
    """Pads `pad` pixels on every side of an NHWC tensor, with zeros or by reflection."""

    def __init__(self, pad: int, mode: str = "zero", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"padding mode must be one of {MODES}, got {mode!r}")
        self.pad = int(pad)
        self.mode = mode

    def call(self, x):
        if self.pad == 0:
            return x
        widths = [[0, 0], [self.pad, self.pad], [self.pad, self.pad], [0, 0]]
        return ops.pad(x, widths, mode="constant" if self.mode == "zero" else "reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.pad  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "mode": self.mode}
