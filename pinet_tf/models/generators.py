"""The two PINet generators and their composition, as functional Keras models.

Both are gated-conv encoder-decoders (paper Table 1; `docs/architecture.md`):

    7x7 GC | GC s2 | GC | GC s2 | GC x3 | GC d2 | GC d4 | self-attention | GC x2
    | up + GC | GC | up + GC | GC (ngf/2) | GC, no activation (output)

G_p input channels (51): source image, source parsing one-hot, source heatmaps, target heatmaps.
G_i input channels (45): source image, source parsing one-hot, parsing guide (12), target heatmaps.
The channel orders are the authors', so their checkpoint imports unchanged.

`ModelConfig.stages=1` (paper Table 3, "One w/ GC" / "One w/ VC") has no G_p: its G_i is the same
encoder-decoder on 39 channels (source image, source heatmaps, target heatmaps), no parsing in
or out (`build_one_stage_image_generator`). `build_generator` composes whichever the config asks
for; `generator_inputs(cfg)` names its inputs.
"""

import keras
from keras import ops

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS, ModelConfig
from pinet_tf.layers import GatedConv2D, GatedUpsample2D, SelfAttention, output_dtype
from pinet_tf.layers.precision import wide


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
        x = wide(x)
        clipped = ops.clip(x, -1.0, 1.0)
        if self.straight_through:
            return x + ops.stop_gradient(clipped - x)
        return clipped

    def get_config(self):
        return {**super().get_config(), "straight_through": self.straight_through}


@keras.saving.register_keras_serializable(package="pinet_tf")
class ParsingGuide(keras.layers.Layer):
    """G_p logits -> the 12 channels G_i receives, without gradient.

    "logits" passes them unchanged (authors' code); "softmax" gives a distribution; "onehot" the
    one-hot of the argmax, the same kind of input as the one-hot ground truth that G_i is trained
    on in the paper's second stage (`pinet_tf.config.FEEDS` has the measured reason).
    """

    def __init__(self, feed="logits", **kwargs):
        super().__init__(**kwargs)
        self.feed = feed

    def call(self, logits):
        logits = ops.stop_gradient(logits)
        if self.feed == "onehot":
            return ops.one_hot(ops.argmax(logits, axis=-1), ops.shape(logits)[-1],
                               dtype=wide(logits).dtype)
        return ops.softmax(wide(logits), axis=-1) if self.feed == "softmax" else logits

    def get_config(self):
        return {**super().get_config(), "feed": self.feed}


#: Input names of G_p (and of the composed generator) and of G_i, in the authors' channel order.
PARSING_GENERATOR_INPUTS = ("source_image", "source_parsing_onehot", "source_heatmaps",
                            "target_heatmaps")
IMAGE_GENERATOR_INPUTS = ("source_image", "source_parsing_onehot", "parsing_guide",
                          "target_heatmaps")
#: The one-stage G_i's inputs (and its composed generator's): no parsing at all.
ONE_STAGE_INPUTS = ("source_image", "source_heatmaps", "target_heatmaps")
_CHANNELS = {"source_image": 3, "source_parsing_onehot": NUM_CLASSES, "parsing_guide": NUM_CLASSES,
             "source_heatmaps": NUM_KEYPOINTS, "target_heatmaps": NUM_KEYPOINTS}


def generator_inputs(cfg: ModelConfig) -> tuple:
    """The composed generator's input names for this config (two- or one-stage)."""
    return PARSING_GENERATOR_INPUTS if cfg.has_parsing else ONE_STAGE_INPUTS


def _inputs(cfg: ModelConfig, names) -> dict:
    return {n: keras.Input((cfg.image_height, cfg.image_width, _CHANNELS[n]), name=n)
            for n in names}


def _encoder_decoder(x, cfg: ModelConfig, encoder_widths, out_channels: int, prefix: str,
                     last_batch_norm: bool = True):
    """The shared gated encoder-decoder; layer i is named f"{prefix}_gc{i}"; `last_batch_norm`
    False: no BatchNorm on the last one."""
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
              padding="reflect" if k > 3 else "zero", batch_norm=last_batch_norm)(x)


def build_parsing_generator(cfg: ModelConfig) -> keras.Model:
    """G_p: (source image, source parsing, source and target pose) -> target parsing logits."""
    if not cfg.has_parsing:
        raise ValueError("a one-stage config (stages=1) has no parsing generator")
    inputs = _inputs(cfg, PARSING_GENERATOR_INPUTS)
    x = keras.layers.Concatenate(name="gp_inputs")([inputs[k] for k in PARSING_GENERATOR_INPUTS])
    logits = _encoder_decoder(x, cfg, cfg.parsing_encoder_widths, NUM_CLASSES, "gp")
    logits = keras.layers.Activation("linear", dtype=output_dtype(),
                                     name="parsing_logits")(logits)
    return keras.Model(inputs, {"parsing_logits": logits}, name="parsing_generator")


def _image_generator(cfg: ModelConfig, names) -> keras.Model:
    inputs = _inputs(cfg, names)
    x = keras.layers.Concatenate(name="gi_inputs")([inputs[k] for k in names])
    x = _encoder_decoder(x, cfg, cfg.image_encoder_widths, 3, "gi",
                         last_batch_norm=cfg.output_batch_norm)
    image = ClipImage(straight_through=cfg.output_clamp == "straight_through", name="image")(x)
    return keras.Model(inputs, {"image": image}, name="image_generator")


def build_image_generator(cfg: ModelConfig) -> keras.Model:
    """G_i: (source image, source parsing, parsing guide, target pose) -> image in [-1, 1].

    For `cfg.stages == 1` this is the one-stage G_i (`build_one_stage_image_generator`)."""
    if not cfg.has_parsing:
        return build_one_stage_image_generator(cfg)
    return _image_generator(cfg, IMAGE_GENERATOR_INPUTS)


def build_one_stage_image_generator(cfg: ModelConfig) -> keras.Model:
    """The one-level G_i (paper Table 3 "One w/ GC"): (source image, source pose, target pose)
    -> image in [-1, 1]; the same encoder-decoder and layer names as G_i, 39 input channels."""
    return _image_generator(cfg, ONE_STAGE_INPUTS)


def build_generator(cfg: ModelConfig, parsing_generator=None, image_generator=None):
    """G_p then G_i, as in the authors' `PInet`: G_i gets G_p's output without gradient.

    Pass existing sub-models to share their weights (the trainer does).
    Returns a model with inputs {source_image, source_parsing_onehot, source_heatmaps,
    target_heatmaps} and outputs {image, parsing_logits}; for `cfg.stages == 1` (no G_p) one
    with inputs {source_image, source_heatmaps, target_heatmaps} and outputs {image}.
    """
    if not cfg.has_parsing:
        if parsing_generator is not None:
            raise ValueError("a one-stage config (stages=1) has no parsing generator")
        image_generator = image_generator or build_one_stage_image_generator(cfg)
        inputs = _inputs(cfg, ONE_STAGE_INPUTS)
        image = image_generator(inputs)["image"]
        return keras.Model(inputs, {"image": image}, name="generator")
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
