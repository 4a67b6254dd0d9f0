"""The two PINet generators and their composition, as functional Keras models.

Both are gated-conv encoder-decoders (paper Table 1; `docs/architecture.md`):

    7x7 GC | GC s2 | GC | GC s2 | GC x3 | GC d2 | GC d4 | self-attention | GC x2
    | up + GC | GC | up + GC | GC (ngf/2) | GC, no activation (output)

G_p input channels (51): source image, source parsing one-hot, source heatmaps, target heatmaps.
G_i input channels (45): source image, source parsing one-hot, parsing guide (12), target heatmaps.
The channel orders are the authors', so their checkpoint imports unchanged.
"""

import keras
from keras import ops

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS, ModelConfig
from pinet_tf.layers import GatedConv2D, GatedUpsample2D, SelfAttention, output_dtype


@keras.saving.register_keras_serializable(package="pinet_tf")
class ClipImage(keras.layers.Layer):
    """Clamp to [-1, 1] (the authors' output; no tanh), in at least float32 (float32 under mixed
    precision, float64 in a float64 run).

    `straight_through=True` gives the same values but passes the gradient through the clamp
    unchanged (`ModelConfig.output_clamp`; the authors' hard clamp has zero gradient where the
    output is saturated)."""

    def __init__(self, straight_through=False, **kwargs):
        super().__init__(**kwargs)
        self.straight_through = bool(straight_through)

    def call(self, x):
        x = ops.cast(x, keras.backend.result_type(x.dtype, "float32"))
        clipped = ops.clip(x, -1.0, 1.0)
        if self.straight_through:
            return x + ops.stop_gradient(clipped - x)
        return clipped

    def get_config(self):
        return {**super().get_config(), "straight_through": self.straight_through}


@keras.saving.register_keras_serializable(package="pinet_tf")
class ParsingGuide(keras.layers.Layer):
    """G_p logits -> the 12 channels G_i receives, without gradient.

    "logits" passes them unchanged (authors' code); "softmax" gives a distribution, matching the
    one-hot ground truth that G_i is trained on in the paper's second stage.
    """

    def __init__(self, feed="logits", **kwargs):
        super().__init__(**kwargs)
        self.feed = feed

    def call(self, logits):
        logits = ops.stop_gradient(logits)
        return ops.softmax(
            ops.cast(logits, keras.backend.result_type(logits.dtype, "float32")), axis=-1) if self.feed == "softmax" \
            else logits

    def get_config(self):
        return {**super().get_config(), "feed": self.feed}


#: Input names of G_p (and of the composed generator) and of G_i, in the authors' channel order.
PARSING_GENERATOR_INPUTS = ("source_image", "source_parsing_onehot", "source_heatmaps",
                            "target_heatmaps")
IMAGE_GENERATOR_INPUTS = ("source_image", "source_parsing_onehot", "parsing_guide",
                          "target_heatmaps")
_CHANNELS = {"source_image": 3, "source_parsing_onehot": NUM_CLASSES, "parsing_guide": NUM_CLASSES,
             "source_heatmaps": NUM_KEYPOINTS, "target_heatmaps": NUM_KEYPOINTS}


def _inputs(cfg: ModelConfig, names) -> dict:
    return {n: keras.Input((cfg.image_height, cfg.image_width, _CHANNELS[n]), name=n)
            for n in names}


def _encoder_decoder(x, cfg: ModelConfig, encoder_widths, out_channels: int, prefix: str):
    """The shared gated encoder-decoder; layer i is named f"{prefix}_gc{i}"."""
    ngf, trunk = cfg.ngf, 4 * cfg.ngf
    gated = cfg.convolution == "gated"
    gc = lambda i, filters, **kw: GatedConv2D(  # noqa: E731
        filters, gated=gated, name=f"{prefix}_gc{i}", **kw)

    # Encoder: full -> 1/2 -> 1/4 resolution.
    x = gc(1, encoder_widths[0] * ngf, kernel_size=7, padding="reflect")(x)
    x = gc(2, encoder_widths[1] * ngf, strides=2)(x)
    x = gc(3, encoder_widths[2] * ngf)(x)
    x = gc(4, encoder_widths[3] * ngf, strides=2)(x)
    # Trunk at 1/4 resolution: plain, then dilated gated convs, then attention.
    for i in (5, 6, 7):
        x = gc(i, trunk)(x)
    x = gc(8, trunk, dilation_rate=2)(x)
    x = gc(9, trunk, dilation_rate=4)(x)
    x = SelfAttention(name=f"{prefix}_attention")(x)
    x = gc(11, trunk)(x)
    x = gc(12, trunk)(x)
    # Decoder: back to full resolution.
    x = GatedUpsample2D(2 * ngf, gated=gated, name=f"{prefix}_gc13")(x)
    x = gc(14, 2 * ngf)(x)
    x = GatedUpsample2D(ngf, gated=gated, name=f"{prefix}_gc15")(x)
    x = gc(16, ngf // 2)(x)
    k = cfg.output_kernel_size
    return gc(17, out_channels, kernel_size=k, activation=None,
              padding="reflect" if k > 3 else "zero")(x)


def build_parsing_generator(cfg: ModelConfig) -> keras.Model:
    """G_p: (source image, source parsing, source and target pose) -> target parsing logits."""
    inputs = _inputs(cfg, PARSING_GENERATOR_INPUTS)
    x = keras.layers.Concatenate(name="gp_inputs")([inputs[k] for k in PARSING_GENERATOR_INPUTS])
    logits = _encoder_decoder(x, cfg, cfg.parsing_encoder_widths, NUM_CLASSES, "gp")
    logits = keras.layers.Activation("linear", dtype=output_dtype(),
                                     name="parsing_logits")(logits)
    return keras.Model(inputs, {"parsing_logits": logits}, name="parsing_generator")


def build_image_generator(cfg: ModelConfig) -> keras.Model:
    """G_i: (source image, source parsing, parsing guide, target pose) -> image in [-1, 1]."""
    inputs = _inputs(cfg, IMAGE_GENERATOR_INPUTS)
    x = keras.layers.Concatenate(name="gi_inputs")([inputs[k] for k in IMAGE_GENERATOR_INPUTS])
    x = _encoder_decoder(x, cfg, cfg.image_encoder_widths, 3, "gi")
    image = ClipImage(straight_through=cfg.output_clamp == "straight_through", name="image")(x)
    return keras.Model(inputs, {"image": image}, name="image_generator")


def build_generator(cfg: ModelConfig, parsing_generator=None, image_generator=None):
    """G_p then G_i, as in the authors' `PInet`: G_i gets G_p's output without gradient.

    Pass existing sub-models to share their weights (the trainer does).
    Returns a model with inputs {source_image, source_parsing_onehot, source_heatmaps,
    target_heatmaps} and outputs {image, parsing_logits}.
    """
    parsing_generator = parsing_generator or build_parsing_generator(cfg)
    image_generator = image_generator or build_image_generator(cfg)
    inputs = _inputs(cfg, PARSING_GENERATOR_INPUTS)
    logits = parsing_generator(inputs)["parsing_logits"]
    guide = ParsingGuide(cfg.parsing_feed, name="parsing_guide")(logits)
    image = image_generator({
        "source_image": inputs["source_image"],
        "source_parsing_onehot": inputs["source_parsing_onehot"],
        "parsing_guide": guide,
        "target_heatmaps": inputs["target_heatmaps"],
    })["image"]
    return keras.Model(inputs, {"image": image, "parsing_logits": logits}, name="generator")
