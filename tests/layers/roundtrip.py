"""get_config and .keras save/load round trips shared by the layer tests."""

import keras
import numpy as np


def assert_keras_roundtrip(layer, input_shape, tmp_path, seed=0):
    """A layer rebuilt from its config has the same config; a saved model reloads exactly."""
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    inputs = keras.Input(input_shape[1:])
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(seed).normal(size=input_shape).astype("float32")
    expected = np.asarray(model(x, training=False))
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(x, training=False)), expected)
    return model
