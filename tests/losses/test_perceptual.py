"""VGG19 perceptual loss: weights from a local file, preprocessing, layer choice, clear errors."""

import keras
import numpy as np
import pytest

from pinet_tf.losses import OFFICIAL_LAYERS, PAPER_LAYERS, VGGPerceptualLoss


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """Random VGG19 notop weights written like the Keras application file would be."""
    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("vgg") / "vgg19_notop.weights.h5")
    keras.applications.VGG19(include_top=False, weights=None).save_weights(path)
    return path


def test_loads_local_weights_and_uses_the_named_layers(vgg_weights):
    loss = VGGPerceptualLoss(vgg_weights, PAPER_LAYERS)
    ref = keras.applications.VGG19(include_top=False, weights=None)
    ref.load_weights(vgg_weights)
    names = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
    probe = keras.Model(ref.input, [ref.get_layer(n).output for n in names])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 44, 3)).astype(np.float32)
    ours = loss.features(loss.preprocess(x))
    theirs = probe(keras.applications.vgg19.preprocess_input((x + 1) * 127.5))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)


def test_value_is_weighted_sum_of_feature_l1(vgg_weights):
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (2, 64, 44, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (2, 64, 44, 3)).astype(np.float32)
    loss = VGGPerceptualLoss(vgg_weights, {"relu1_2": 2.0, "relu2_1": 0.5})
    fa, fb = loss.features(loss.preprocess(a)), loss.features(loss.preprocess(b))
    want = sum(w * np.abs(np.asarray(x) - np.asarray(y)).mean()
               for w, x, y in zip((2.0, 0.5), fa, fb))
    np.testing.assert_allclose(float(loss(a, b)), want, rtol=1e-4)
    assert float(loss(a, a)) == 0.0


def test_official_layer_is_relu1_2_and_torch_preprocessing(vgg_weights):
    loss = VGGPerceptualLoss(vgg_weights, OFFICIAL_LAYERS, preprocessing="torch")
    assert [layer.name for layer in loss.features.layers][-1] == "block1_conv2"
    x = np.zeros((1, 4, 4, 3), np.float32)  # mid grey -> ((0.5 - mean) / std)
    want = (0.5 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(np.asarray(loss.preprocess(x))[0, 0, 0], want, rtol=1e-5)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="--vgg-weights"):
        VGGPerceptualLoss(None)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        VGGPerceptualLoss(str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="relu"):
        VGGPerceptualLoss(str(tmp_path / "x.h5"), {"conv9_9": 1.0})
    bad = tmp_path / "garbage.h5"
    bad.write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="garbage.h5"):
        VGGPerceptualLoss(str(bad))
