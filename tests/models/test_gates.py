"""Gate masks (paper Fig. 8): one map per gated layer, equal to the layers' own gate values."""

import numpy as np
import pytest
from keras import ops

from pinet_tf.config import ModelConfig
from pinet_tf.models import build_generator, build_parsing_generator
from pinet_tf.models.gates import gate_maps, gate_picture, skipped_layers

CFG = ModelConfig.tiny()
H, W = CFG.image_size


def _inputs(seed=0, batch=2):
    rng = np.random.default_rng(seed)
    onehot = np.eye(12, dtype=np.float32)[rng.integers(0, 12, (batch, H, W))]
    return {"source_image": rng.uniform(-1, 1, (batch, H, W, 3)).astype(np.float32),
            "source_parsing_onehot": onehot,
            "source_heatmaps": rng.uniform(0, 1, (batch, H, W, 18)).astype(np.float32),
            "target_heatmaps": rng.uniform(0, 1, (batch, H, W, 18)).astype(np.float32)}


GATED = [f"gc{i}" for i in range(1, 18) if i != 10]  # layer 10 is the attention


def test_one_map_per_gated_layer_in_network_order():
    maps = gate_maps(build_generator(CFG), _inputs())
    assert [m.name for m in maps] == [f"gp_{n}" for n in GATED] + [f"gi_{n}" for n in GATED]
    sizes = {m.name: m.resolution for m in maps}
    assert sizes["gp_gc1"] == (H, W) and sizes["gp_gc2"] == (H // 2, W // 2)
    assert sizes["gp_gc5"] == (H // 4, W // 4) and sizes["gi_gc17"] == (H, W)
    for m in maps:
        assert m.mask.shape == (2,) + m.resolution and m.mask.dtype == np.float32
        assert 0.0 <= m.mask.min() and m.mask.max() <= 1.0


@pytest.mark.parametrize("layer_name", ["gp_gc1", "gp_gc8", "gp_gc13"])
def test_maps_equal_the_layers_gate_values(layer_name):
    gp = build_parsing_generator(CFG)
    inputs = _inputs(seed=1)
    maps = {m.name: m.mask for m in gate_maps(gp, inputs)}
    import keras

    layer = gp.get_layer(layer_name)
    conv_layer = getattr(layer, "gated_conv", layer)  # an upsampling layer's own gated conv
    x = keras.Model(gp.inputs, layer.input)(inputs)
    if conv_layer is not layer:
        x = layer.upsample(x)
    _, gate = ops.split(conv_layer.conv(conv_layer.pad(x)), 2, axis=-1)
    expected = np.asarray(ops.sigmoid(gate)).mean(axis=-1)
    np.testing.assert_allclose(maps[layer_name], expected, atol=1e-6)


def test_picture_has_a_panel_per_layer_and_vanilla_has_none():
    maps = gate_maps(build_parsing_generator(CFG), _inputs(batch=1))
    src = np.zeros((H, W, 3), np.uint8)
    picture = gate_picture(maps, [("source", src)], [("result", src)], columns=1)
    # one column: 16 maps + the grey panel of layer 10 (the attention, no gate) + 2 panels, each
    # enlarged x2 (64 -> 128 px) above a 14 px label, separated by 4 px
    assert len(maps) == 16
    assert skipped_layers(maps) == {9: ["gp_gc10: attention"]}
    assert [m.name for m in maps][8:10] == ["gp_gc9", "gp_gc11"]
    assert picture.shape[0] == 19 * (2 * H + 14) + 20 * 4
    assert picture.dtype == np.uint8
    panel = picture[4 + 10 * (2 * H + 14 + 4):][:2 * H]     # the 11th panel: layer 10's
    assert (panel[:, 4:4 + 2 * W] == 192).all()
    row = gate_picture(maps, [("source", src)], [("result", src)], columns=19)
    assert row.shape[0] == (2 * H + 14) + 2 * 4
    vanilla = build_parsing_generator(ModelConfig.from_dict(
        {**CFG.to_dict(), "convolution": "vanilla"}))
    with pytest.raises(ValueError, match="no gated layers"):
        gate_maps(vanilla, _inputs())
