"""`statistics_from_batch`: every BatchNorm's moving statistics become one batch's own (numerics
against NumPy), momenta come back, nothing trainable moves; on the tiny generator with random
weights the inference-mode output stops collapsing."""

import keras
import numpy as np

from pinet_tf.config import ModelConfig
from pinet_tf.models import build_generator
from pinet_tf.models.batchnorm import batchnorm_layers, statistics_from_batch
from tests.models.test_generators import _inputs


class _Block(keras.layers.Layer):
    """A layer that owns a BatchNorm (as GatedConv2D does), to check nested layers are found."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def call(self, x, training=None):
        return self.bn(self.dense(x), training=training)


def test_moving_statistics_are_the_batchs_and_momentum_comes_back():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(2.0, 3.0, (16, 5)).astype("float32")
    inputs = keras.Input((5,))
    block = _Block()
    outer = keras.layers.BatchNormalization(momentum=0.7)
    model = keras.Model(inputs, outer(block(inputs)))
    model(x)
    trainable = [w.numpy().copy() for w in model.trainable_weights]

    layers = statistics_from_batch(model, x)

    assert {id(layer) for layer in layers} == {id(block.bn), id(outer)}
    assert len(batchnorm_layers(model)) == 2
    assert (block.bn.momentum, outer.momentum) == (0.9, 0.7)
    h = x @ block.dense.kernel.numpy() + block.dense.bias.numpy()
    np.testing.assert_allclose(block.bn.moving_mean.numpy(), h.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(block.bn.moving_variance.numpy(), h.var(0), rtol=1e-4)
    for before, after in zip(trainable, model.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_random_tiny_generator_gets_order_one_activations():
    cfg = ModelConfig.tiny()
    keras.utils.set_random_seed(1)
    generator = build_generator(cfg)
    x = _inputs(generator, batch=4)
    image = lambda: np.asarray(generator(x, training=False)["image"])  # noqa: E731
    before = np.std(image())
    statistics_from_batch(generator, x)
    after = np.std(image())
    assert after > 10 * before and after > 0.05, (before, after)
