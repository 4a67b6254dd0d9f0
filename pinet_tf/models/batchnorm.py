"""BatchNorm moving statistics from one batch.

`statistics_from_batch(model, inputs)` sets every `BatchNormalization` layer's moving mean and
variance (nested layers included) to that batch's own statistics: one training-mode call with the
momentum at 0, then each layer's momentum is put back. A model with random weights then behaves in
inference mode like a trained one (O(1) activations, no float32 denormals), which is what the
serving and export tests and the benchmarks need; after editing weights (e.g. importing or
surgery) it re-estimates the statistics the same way. Only BatchNorm state changes: the call's
outputs are discarded and no trainable weight moves.
"""

import keras


def batchnorm_layers(model) -> list:
    """Every BatchNormalization layer inside `model`, once each, in Keras' own order."""
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)]


def statistics_from_batch(model, inputs) -> list:
    """Moving statistics := those of `inputs` (module docstring); returns the layers it set."""
    layers = batchnorm_layers(model)
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        model(inputs, training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return layers
