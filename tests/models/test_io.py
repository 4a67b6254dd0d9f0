import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.models import build_generator
from pinet_tf.models.io import load_generator, save_generator

CFG = ModelConfig(name="io", image_height=16, image_width=12, ngf=8)


def _x(g):
    rng = np.random.default_rng(0)
    return {t.name: rng.uniform(0, 1, (1,) + tuple(t.shape[1:])).astype("f4") for t in g.inputs}


def test_weights_and_config_round_trip(tmp_path):
    g = build_generator(CFG)
    path = str(tmp_path / "w" / "g.weights.h5")
    save_generator(g, CFG, path)
    loaded, cfg = load_generator(path)
    assert cfg == CFG
    np.testing.assert_array_equal(np.asarray(loaded(_x(g))["image"]),
                                  np.asarray(g(_x(g))["image"]))
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["g.config.json",
                                                                 "g.weights.h5"]


def test_run_directory(tmp_path):
    g = build_generator(CFG)
    save_generator(g, CFG, str(tmp_path / "generator.weights.h5"))
    (tmp_path / "generator.config.json").rename(tmp_path / "config.json")
    _, cfg = load_generator(str(tmp_path))
    assert cfg == CFG


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="generator weights not found"):
        load_generator(str(tmp_path / "absent.weights.h5"))
    g = build_generator(CFG)
    path = str(tmp_path / "g.weights.h5")
    g.save_weights(path)
    with pytest.raises(FileNotFoundError, match="no config for"):
        load_generator(path)
    with pytest.raises(ValueError, match="cannot load generator weights"):
        load_generator(path, ModelConfig(name="other", image_height=16, image_width=12, ngf=16))
    with pytest.raises(ValueError, match="must end in .weights.h5"):
        save_generator(g, CFG, str(tmp_path / "g.h5"))


def test_resolve_weights_takes_a_config_file_as_well_as_a_preset(tmp_path):
    """`export --config` / `transfer --config`: a preset name or a ModelConfig JSON file."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.models.io import resolve_weights

    weights = tmp_path / "g.weights.h5"
    weights.write_bytes(b"")
    cfg_file = tmp_path / "mine.json"
    ModelConfig.preset("tiny").save(str(cfg_file))
    assert resolve_weights(str(weights), "tiny")[1] == ModelConfig.preset("tiny")
    assert resolve_weights(str(weights), str(cfg_file))[1] == ModelConfig.preset("tiny")
    with pytest.raises(FileNotFoundError, match="no such config file"):
        resolve_weights(str(weights), str(tmp_path / "missing.json"))
