"""One predictor interface over Keras weights and exported SavedModels.

The SavedModel side is checked against a small stand-in module with the export package's own
signature specs (`pinet_tf.export.savedmodel.input_specs`): exporting the real generator takes
~30 s here, so the equality of a real export with Keras is the export package's test.
"""

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.export.savedmodel import POSE_TRANSFER, TEXTURE_TRANSFER, input_specs
from pinet_tf.inference.predictor import SavedModelPredictor, load_predictor
from tests.inference.people import C, make_person


class _StandIn(tf.Module):
    """pose_transfer: the source mirrored left-right, parsing + 1 mod 12; texture_transfer:
    the condition image where `regions` selects the source's class."""

    def __init__(self, cfg):
        super().__init__()
        specs = input_specs(cfg)
        named = {k: {n: tf.TensorSpec(s.shape, s.dtype, name=n) for n, s in v.items()}
                 for k, v in specs.items()}
        self.pose = tf.function(self._pose, input_signature=[named[POSE_TRANSFER]])
        self.tex = tf.function(self._tex, input_signature=[named[TEXTURE_TRANSFER]])

    def _pose(self, x):
        shift = tf.cast(tf.reduce_sum(x["target_keypoints"]) * 0, tf.uint8)
        return {"image": tf.reverse(x["source_image"], [2]) + shift,
                "parsing": (x["source_parsing"] + 1) % 12}

    def _tex(self, x):
        regions = tf.gather(x["regions"], tf.cast(x["source_parsing"], tf.int32), batch_dims=1)
        return {"image": tf.where(regions[..., None] > 0, x["condition_image"],
                                  x["source_image"])}


@pytest.fixture(scope="module")
def stand_in_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    module = _StandIn(ModelConfig.tiny())
    tf.saved_model.save(module, str(base / "3"), signatures={
        POSE_TRANSFER: module.pose.get_concrete_function(),
        TEXTURE_TRANSFER: module.tex.get_concrete_function()})
    return str(base)


def _inputs():
    image, parsing, kp = make_person(64, 44, seed=5)
    cond_image, cond_parsing, _ = make_person(64, 44, seed=6, shift=0.05)
    return image[None], parsing[None], kp[None], cond_image[None], cond_parsing[None]


def test_saved_model_predictor_speaks_the_export_signatures(stand_in_export):
    predictor = load_predictor(stand_in_export)   # an export BASE: its newest version
    assert isinstance(predictor, SavedModelPredictor)
    assert predictor.image_size == (64, 44)
    image, parsing, kp, cond_image, cond_parsing = _inputs()
    out_image, out_parsing = predictor.transfer(image, parsing, kp, kp)
    np.testing.assert_array_equal(out_image, image[:, :, ::-1])
    np.testing.assert_array_equal(out_parsing, (parsing + 1) % 12)
    regions = np.zeros((1, 12), np.float32)
    regions[0, C["pants"]] = 1
    tex = predictor.texture(image, parsing, kp, cond_image, cond_parsing, regions)
    mask = parsing == C["pants"]
    np.testing.assert_array_equal(tex[mask], cond_image[mask])
    np.testing.assert_array_equal(tex[~mask], image[~mask])


def test_saved_model_without_pose_transfer_is_refused(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x}, input_signature=[tf.TensorSpec([1], tf.float32)])
    tf.saved_model.save(module, str(tmp_path), signatures={"other": module.f})
    with pytest.raises(ValueError, match="has no 'pose_transfer' signature"):
        load_predictor(str(tmp_path))
