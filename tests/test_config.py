import json

import pytest

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES, ModelConfig
from pinet_tf.models.encoding import FLIP_PERMUTATION


@pytest.mark.parametrize("name", ["official", "paper", "small", "tiny"])
def test_json_round_trip(name, tmp_path):
    cfg = ModelConfig.preset(name)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    cfg.save(tmp_path / "c.json")
    assert ModelConfig.load(tmp_path / "c.json") == cfg
    assert json.loads(cfg.to_json())["name"] == name


def test_presets_differ_where_the_paper_and_code_differ():
    official, paper = ModelConfig.official(), ModelConfig.paper()
    assert official.parsing_encoder_widths == (1, 2, 2, 4)
    assert paper.parsing_encoder_widths == (1, 1, 2, 2)
    assert (official.output_kernel_size, paper.output_kernel_size) == (3, 7)
    assert official.image_size == (256, 176) and official.heatmap_sigma == 6.0
    assert ModelConfig.tiny().heatmap_sigma == pytest.approx(1.5)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        ModelConfig(image_height=30)
    with pytest.raises(ValueError, match="parsing_feed"):
        ModelConfig(parsing_feed="argmax")
    for ngf in (0, 1, 3):
        with pytest.raises(ValueError, match=f"ngf must be an even number >= 2.*got {ngf}$"):
            ModelConfig(ngf=ngf)
    with pytest.raises(ValueError, match="ndf must be >= 1, got 0"):
        ModelConfig(ndf=0)
    with pytest.raises(ValueError, match="unknown config"):
        ModelConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"name": "x", "width": 3})


def test_vocabulary():
    assert len(CLASS_NAMES) == 12 and CLASS_NAMES[0] == "background"
    assert len(KEYPOINT_NAMES) == 18
    swapped = [KEYPOINT_NAMES[i] for i in FLIP_PERMUTATION]
    assert swapped[KEYPOINT_NAMES.index("right_shoulder")] == "left_shoulder"
    assert swapped[KEYPOINT_NAMES.index("nose")] == "nose"
    assert sorted(FLIP_PERMUTATION) == list(range(18))
