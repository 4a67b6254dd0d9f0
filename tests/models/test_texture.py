import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.models import build_generator
from pinet_tf.models.texture import regions_to_multihot, texture_transfer


@pytest.mark.parametrize("feed", ["softmax", "onehot", "logits"])
def test_only_the_chosen_regions_change(feed):
    cfg = ModelConfig(name="tex", image_height=16, image_width=12, ngf=8, parsing_feed=feed)
    g = build_generator(cfg)
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (2, 16, 12, 3), dtype=np.uint8)
    parsing = rng.integers(0, 12, (2, 16, 12), dtype=np.uint8)
    keypoints = rng.uniform(0, 12, (2, 18, 2)).astype("float32")
    condition = rng.integers(0, 256, (2, 16, 12, 3), dtype=np.uint8)
    out = np.asarray(texture_transfer(g, cfg, source, parsing, keypoints, condition,
                                      parsing[::-1], regions_to_multihot([2, 4])))
    region = np.isin(parsing, [2, 4])
    assert out.dtype == np.uint8 and out.shape == source.shape
    np.testing.assert_array_equal(out[~region], source[~region])
    assert (out[region] != source[region]).any()


def test_multihot():
    hot = np.asarray(regions_to_multihot([2, 4, 4], batch_size=3))
    assert hot.shape == (3, 12) and hot.sum() == 6 and hot[0, 2] == hot[0, 4] == 1
