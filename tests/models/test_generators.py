import keras
import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.models import (build_generator, build_image_generator,
                             build_parsing_generator, check_inputs)


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _inputs(model, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return {t.name: rng.uniform(-1, 1, (batch,) + tuple(t.shape[1:])).astype("float32")
            for t in model.inputs}


def test_official_parameter_count_is_exact():
    cfg = ModelConfig.official()
    gp, gi = build_parsing_generator(cfg), build_image_generator(cfg)
    assert _trainable(gp) == 10_778_737
    assert _trainable(gi) == 9_629_197
    assert _trainable(build_generator(cfg, gp, gi)) == 20_407_934


def test_paper_variant_differs_from_official():
    paper = build_parsing_generator(ModelConfig.paper())
    assert paper.get_layer("gp_gc2").filters == 64
    assert paper.get_layer("gp_gc17").kernel_size == 7
    assert _trainable(paper) != 10_778_737


@pytest.fixture(scope="module")
def tiny():
    cfg = ModelConfig.tiny()
    return cfg, build_generator(cfg)


def test_named_outputs_and_shapes(tiny):
    cfg, g = tiny
    assert sorted(t.name for t in g.inputs) == [
        "source_heatmaps", "source_image", "source_parsing_onehot", "target_heatmaps"]
    out = g(_inputs(g), training=False)
    assert set(out) == {"image", "parsing_logits"}
    assert out["image"].shape == (2, 64, 44, 3)
    assert out["parsing_logits"].shape == (2, 64, 44, 12)
    assert float(tf.reduce_max(tf.abs(out["image"]))) <= 1.0


def test_image_branch_gets_no_gradient_into_parsing_generator(tiny):
    cfg, g = tiny
    x = _inputs(g)
    gp_vars = g.get_layer("parsing_generator").trainable_variables
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(g(x, training=True)["image"])
    grads = tape.gradient(loss, gp_vars)
    assert all(gr is None for gr in grads)


def test_wrong_input_size_names_shapes(tiny):
    _, g = tiny
    x = _inputs(g)
    x["source_image"] = np.zeros((2, 32, 44, 3), "float32")
    with pytest.raises(ValueError, match=r"expected shape=\(None, 64, 44, 3\).*found shape=\(2, 32, 44, 3\)"):
        g(x)
    with pytest.raises(ValueError, match=r"has shape \(2, 32, 44, 3\), expected \(B, 64, 44, 3\)"):
        check_inputs(g, x)


def test_check_inputs_refuses_channels_dtype_and_missing(tiny):
    _, g = tiny
    x = _inputs(g)
    bad = dict(x, target_heatmaps=np.zeros((2, 64, 44, 17), "float32"))
    with pytest.raises(ValueError, match="target_heatmaps.*17.*expected.*18"):
        check_inputs(g, bad)
    bad = dict(x, source_image=np.zeros((2, 64, 44, 3), "uint8"))
    with pytest.raises(ValueError, match="source_image.*dtype uint8"):
        check_inputs(g, bad)
    bad = {k: v for k, v in x.items() if k != "source_heatmaps"}
    with pytest.raises(ValueError, match="missing input 'source_heatmaps'"):
        check_inputs(g, bad)
    check_inputs(g, x)


def test_keras_save_load_reproduces_outputs(tiny, tmp_path):
    _, g = tiny
    x = _inputs(g, seed=3)
    # Move BN statistics away from the identity so the comparison is not vacuous.
    for layer in g.get_layer("image_generator").layers:
        if hasattr(layer, "bn") and layer.bn is not None:
            layer.bn.moving_variance.assign(np.full(layer.filters, 0.05, "float32"))
    expected = g(x, training=False)
    g.save(tmp_path / "g.keras")
    reloaded = keras.saving.load_model(tmp_path / "g.keras")
    got = reloaded(x, training=False)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_logits_feed_reaches_image_generator():
    cfg = ModelConfig(name="t", image_height=16, image_width=12, ngf=8, parsing_feed="logits")
    g = build_generator(cfg)
    assert g.get_layer("parsing_guide").feed == "logits"
    assert g(_inputs(g, batch=1))["image"].shape == (1, 16, 12, 3)


def test_onehot_feed_gives_the_image_generator_the_argmax_one_hot():
    """parsing_feed="onehot": G_i's output equals G_i called directly on one_hot(argmax(G_p))."""
    cfg = ModelConfig(name="t", image_height=16, image_width=12, ngf=8, parsing_feed="onehot")
    g = build_generator(cfg)
    x = _inputs(g, batch=2)
    out = g(x, training=False)
    logits = np.asarray(out["parsing_logits"])
    guide = np.eye(12, dtype=np.float32)[logits.argmax(-1)]
    direct = g.get_layer("image_generator")({
        "source_image": x["source_image"], "source_parsing_onehot": x["source_parsing_onehot"],
        "parsing_guide": guide, "target_heatmaps": x["target_heatmaps"]}, training=False)
    np.testing.assert_allclose(np.asarray(out["image"]), np.asarray(direct["image"]), atol=1e-6)
    layer = g.get_layer("parsing_guide")
    np.testing.assert_array_equal(np.asarray(layer(logits)), guide)


def test_mixed_precision_outputs_are_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        cfg = ModelConfig(name="t", image_height=16, image_width=12, ngf=8)
        g = build_generator(cfg)
        out = g(_inputs(g, batch=1))
        assert out["image"].dtype == "float32" and out["parsing_logits"].dtype == "float32"
        assert g.get_layer("parsing_generator").get_layer("gp_gc1").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _variant(base: ModelConfig, **changes) -> ModelConfig:
    return ModelConfig.from_dict({**base.to_dict(), **changes})


def test_vanilla_convolution_parameter_count_at_official_widths():
    # Table 3's "w/ VC": every gated conv keeps its geometry and width but loses its gate branch,
    # so each conv kernel and bias halves; BatchNorm and attention are unchanged.
    cfg = _variant(ModelConfig.official(), convolution="vanilla")
    gp, gi = build_parsing_generator(cfg), build_image_generator(cfg)
    assert _trainable(gp) == 5_433_221
    assert _trainable(gi) == 4_858_250
    assert _trainable(build_generator(cfg, gp, gi)) == 10_291_471


def test_vanilla_convolution_is_a_plain_conv_with_the_same_outputs(tmp_path):
    cfg = _variant(ModelConfig.tiny(), convolution="vanilla")
    g = build_generator(cfg)
    layer = g.get_layer("parsing_generator").get_layer("gp_gc5")
    assert layer.conv.filters == layer.filters and not layer.gated
    x = _inputs(g, seed=4)
    expected = g(x, training=False)
    assert expected["image"].shape == (2, 64, 44, 3)
    assert expected["parsing_logits"].shape == (2, 64, 44, 12)
    g.save(tmp_path / "v.keras")
    got = keras.saving.load_model(tmp_path / "v.keras")(x, training=False)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_unknown_convolution_is_refused():
    with pytest.raises(ValueError, match="convolution must be one of"):
        _variant(ModelConfig.tiny(), convolution="deformable")


def test_straight_through_clamp_same_output_gradient_where_saturated():
    """`output_clamp="straight_through"`: the forward values equal the authors' hard clamp, but
    saturated pixels still get the gradient (the hard clamp gives exactly 0 there)."""
    import tensorflow as tf

    from pinet_tf.models.generators import ClipImage

    x = tf.constant([[-3.0, -1.0, -0.5, 0.0, 0.7, 2.5]])
    grads = {}
    for straight in (False, True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = ClipImage(straight_through=straight)(x)
            loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]))
        grads[straight] = tape.gradient(loss, x).numpy()
        np.testing.assert_array_equal(y.numpy(), np.clip(x.numpy(), -1, 1))
    assert grads[False][0, 0] == 0 and grads[False][0, 5] == 0
    np.testing.assert_array_equal(grads[True], [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    layer = ClipImage(straight_through=True)
    assert ClipImage.from_config(layer.get_config()).straight_through


def test_small_preset_uses_straight_through_official_never():
    assert ModelConfig.small().output_clamp == "straight_through"
    assert ModelConfig.official().output_clamp == "hard"
    assert ModelConfig.paper().output_clamp == "hard"
    with pytest.raises(ValueError, match="output_clamp must be one of"):
        ModelConfig(output_clamp="soft")


def test_output_batch_norm_off_drops_only_the_image_generators_last_one():
    """`output_batch_norm=False`: G_i's last layer has no BatchNorm (3 channels x gamma, beta,
    moving mean, moving variance = 12 weights fewer, 6 of them trainable); G_p and every other
    layer keep theirs; the config round-trips through JSON; a non-boolean is refused."""
    base = ModelConfig.tiny()
    cfg = _variant(base, output_batch_norm=False)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg and base.output_batch_norm
    gi, gi_base = build_image_generator(cfg), build_image_generator(base)
    assert not gi.get_layer("gi_gc17").batch_norm and gi.get_layer("gi_gc16").batch_norm
    assert gi_base.get_layer("gi_gc17").batch_norm
    assert gi_base.count_params() - gi.count_params() == 12
    assert _trainable(gi_base) - _trainable(gi) == 6
    assert build_parsing_generator(cfg).get_layer("gp_gc17").batch_norm
    out = gi(_inputs(gi), training=True)["image"].numpy()
    assert out.shape == (2, base.image_height, base.image_width, 3)
    assert np.all(np.abs(out) <= 1)
    with pytest.raises(ValueError, match="'output_batch_norm' must be true or false"):
        _variant(base, output_batch_norm="no")
