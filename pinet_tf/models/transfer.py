"""Pose transfer on compact tensors: the one path from what a client has to what G returns.

    uint8 image, uint8 label map, (y, x) keypoints
        -> [-1, 1] image, one-hot parsing, Gaussian heatmaps (`pinet_tf.models.encoding`)
        -> G (inference mode) -> uint8 image, uint8 parsing (argmax of G_p's logits)

The exported signatures, the Keras predictor, the TFLite benchmark and the tests all call
`pose_transfer`; its sibling for paper Eq. 11 is `pinet_tf.models.texture.texture_transfer`.
A one-stage model (`ModelConfig.stages == 1`) takes no label map and returns no parsing.
"""

import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.models.encoding import float_to_uint8, image_to_float, keypoints_to_heatmaps, \
    parsing_to_onehot


def pose_inputs(cfg: ModelConfig, source_image, source_parsing, source_keypoints,
                target_keypoints) -> dict:
    """Compact tensors -> the generator's input dict (images [-1, 1], one-hot, heatmaps).

    A one-stage model (`cfg.stages == 1`) takes no parsing: `source_parsing` is ignored (None is
    fine); a two-stage model needs it."""
    h, w = cfg.image_size
    inputs = {"source_image": image_to_float(source_image),
              "source_heatmaps": keypoints_to_heatmaps(source_keypoints, h, w,
                                                       cfg.heatmap_sigma),
              "target_heatmaps": keypoints_to_heatmaps(target_keypoints, h, w,
                                                       cfg.heatmap_sigma)}
    if cfg.has_parsing:
        if source_parsing is None:
            raise ValueError("this model has a parsing generator: it needs the source parsing")
        inputs["source_parsing_onehot"] = parsing_to_onehot(source_parsing)
    return inputs


def pose_transfer(generator, cfg: ModelConfig, source_image, source_parsing, source_keypoints,
                  target_keypoints) -> dict:
    """The source person in the target pose.

    Args:
        generator: the model from `build_generator(cfg)`.
        source_image: uint8 [B,H,W,3]; source_parsing: uint8 [B,H,W] labels 0..11.
        source_keypoints, target_keypoints: float32 [B,18,2] (y, x) pixels, -1 = missing.
    Returns:
        {"image": uint8 [B,H,W,3], "parsing": uint8 [B,H,W] (the predicted target parsing)};
        a one-stage model (`cfg.stages == 1`) ignores `source_parsing` and returns {"image"}.
    """
    out = generator(pose_inputs(cfg, source_image, source_parsing, source_keypoints,
                                target_keypoints), training=False)
    result = {"image": float_to_uint8(out["image"])}
    if cfg.has_parsing:
        result["parsing"] = tf.cast(tf.argmax(out["parsing_logits"], axis=-1), tf.uint8)
    return result
