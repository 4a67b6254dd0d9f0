"""Texture transfer, paper Sec. 3.5, Eq. 11:

    I_f = I_s * (1 - M_s,i) + G_I(I_c, M_c, M_s, P_s) * M_s,i

The image generator is asked to draw the *condition* person's clothes (I_c, M_c) in the *source*
person's shape (parsing M_s) and pose (P_s); the chosen regions of the source parsing are then
replaced by that rendering. Pixels outside the regions are copied from the source unchanged
(composited in uint8, so they are bit-identical).

What G_I receives as M_s depends on how it was trained (`cfg.parsing_feed`):
* "softmax" or "onehot" (paper schedule): G_I was trained on one-hot target parsing, so it gets
  one-hot(M_s).
* "logits" (authors' code, the released checkpoint): G_I only ever saw G_p's raw logits, whose
  scale a one-hot map does not match; it gets G_p(I_s, M_s, P_s -> P_s), i.e. the source's own
  parsing re-predicted in its own pose, which is M_s in the form G_I knows.

A one-stage model (`ModelConfig.stages == 1`) has no parsing generator and its G_I takes no
parsing, so it cannot do this: `check_texture_model` gives the one line every texture path
raises.
"""

import tensorflow as tf

from pinet_tf.config import NUM_CLASSES, ModelConfig
from pinet_tf.models.encoding import float_to_uint8, image_to_float, keypoints_to_heatmaps, \
    parsing_to_onehot


def one_stage_texture_error(source=None) -> str:
    """The line a texture verb gives for a one-stage model (`source`: the run or file)."""
    return (f"texture transfer needs the parsing generator; the model in "
            f"{source or 'this run'} has stages=1")


def check_texture_model(cfg: ModelConfig, source=None) -> None:
    """ValueError (one line) unless the model can do texture transfer (it has G_p)."""
    if not cfg.has_parsing:
        raise ValueError(one_stage_texture_error(source))


def regions_to_multihot(class_ids, batch_size=None):
    """Class ids [K] (int) -> float32 multi-hot [NUM_CLASSES] (or [B, NUM_CLASSES])."""
    ids = tf.cast(tf.reshape(class_ids, [-1]), tf.int32)
    hot = tf.reduce_max(tf.one_hot(ids, NUM_CLASSES, dtype=tf.float32), axis=0)
    hot = tf.reshape(hot, [NUM_CLASSES])
    return hot if batch_size is None else tf.tile(hot[None], [batch_size, 1])


def texture_transfer(generator, cfg: ModelConfig, source_image, source_parsing, source_keypoints,
                     condition_image, condition_parsing, regions):
    """Eq. 11 on compact tensors.

    Args:
        generator: the model from `build_generator(cfg)` (its G_p and G_i sub-models are used).
        source_image, condition_image: uint8 [B,H,W,3].
        source_parsing, condition_parsing: uint8 [B,H,W] labels 0..11.
        source_keypoints: float32 [B,18,2] (y, x), -1 missing.
        regions: float/bool multi-hot [B,12] or [12]: the source classes to replace.
    Returns:
        uint8 [B,H,W,3], the edited source image.
    """
    check_texture_model(cfg)
    parsing_generator = generator.get_layer("parsing_generator")
    image_generator = generator.get_layer("image_generator")
    height, width = cfg.image_size

    source_float = image_to_float(source_image)
    source_onehot = parsing_to_onehot(source_parsing)
    source_heatmaps = keypoints_to_heatmaps(source_keypoints, height, width, cfg.heatmap_sigma)
    if cfg.parsing_feed in ("softmax", "onehot"):
        guide = source_onehot
    else:
        guide = parsing_generator({
            "source_image": source_float, "source_parsing_onehot": source_onehot,
            "source_heatmaps": source_heatmaps, "target_heatmaps": source_heatmaps,
        }, training=False)["parsing_logits"]
    rendered = image_generator({
        "source_image": image_to_float(condition_image),
        "source_parsing_onehot": parsing_to_onehot(condition_parsing),
        "parsing_guide": guide,
        "target_heatmaps": source_heatmaps,
    }, training=False)["image"]

    regions = tf.cast(regions, tf.float32)
    if regions.shape.rank == 1:
        regions = regions[None]
    mask = tf.reduce_sum(source_onehot * regions[:, None, None, :], axis=-1, keepdims=True) > 0.5
    # Selected in int32: TFLite has no uint8 SelectV2 (the export-tflite of texture_transfer).
    return tf.cast(tf.where(mask, tf.cast(float_to_uint8(rendered), tf.int32),
                            tf.cast(source_image, tf.int32)), tf.uint8)
