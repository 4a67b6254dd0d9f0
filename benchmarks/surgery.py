"""Changes made to a built Keras generator for benchmarking only: O(1) random weights, BN folding.

Neither is used by the package: `randomise_tf` makes random weights behave like trained ones
(for timing), `fold_batchnorm` is the optimisation tried in stage `forward_keras_b1_bnfold`.
"""

from __future__ import annotations

import time

from benchmarks.common import tf_inputs


def _sublayers(layer):
    """Every layer below `layer`, depth first (nested models and layers' own sublayers)."""
    for sub in getattr(layer, "_layers", []) + list(getattr(layer, "layers", [])):
        yield sub
        yield from _sublayers(sub)


def _unique(layers):
    seen = set()
    for layer in layers:
        if id(layer) not in seen:
            seen.add(id(layer))
            yield layer


def random_generator(cfg, batch: int = 1):
    """(generator with `randomise_tf` weights, seconds to build it)."""
    from pinet_tf.models import build_generator
    t0 = time.perf_counter()
    generator = build_generator(cfg)
    build_s = time.perf_counter() - t0
    randomise_tf(generator, tf_inputs(cfg, batch, seed=1))
    return generator, build_s


def randomise_tf(generator, inputs, seed=0, attention_gamma=0.7, output_scale=0.4):
    """Random weights with O(1) activations in inference mode, like a trained model.

    Plain random weights shrink the activations layer by layer to ~1e-9 and below (keras3-notes),
    into float32 denormals, which make x86 arithmetic many times slower where they are not
    flushed to zero (torch does not flush by default: 0.10 s vs 0.02 s for the tiny generator).
    So both frameworks get what `tests/reference/pinet_torch.randomise_` does: random BN
    gamma/beta, attention gamma 0.7, and BN moving statistics set from one batch.
    """
    import keras
    import numpy as np

    from pinet_tf.models.batchnorm import statistics_from_batch
    rng = np.random.default_rng(seed)
    bns, last = [], []
    for layer in _unique(_sublayers(generator)):
        if isinstance(layer, keras.layers.BatchNormalization):
            bns.append(layer)
        elif layer.__class__.__name__ == "SelfAttention":
            layer.gamma.assign(np.full((1,), attention_gamma, "float32"))
        elif layer.__class__.__name__ == "GatedConv2D" and layer.name.endswith("gc17"):
            last.append(layer.bn)
    for bn in bns:
        n = bn.gamma.shape[0]
        scale = output_scale if bn in last else 1.0
        bn.gamma.assign((scale * (0.5 + rng.uniform(0, 1, n))).astype("float32"))
        bn.beta.assign((scale * 0.2 * rng.normal(size=n)).astype("float32"))
    statistics_from_batch(generator, inputs)


def fold_batchnorm(generator) -> float:
    """Fold each GatedConv2D's inference BatchNorm into its feature conv, in place.

    BN(s) after the gate is y * scale + shift per channel. Where every scale of a layer is > 0,
    scale * leaky_relu(f) = leaky_relu(scale * f), so the scale goes into the feature half of the
    kernel and bias and only `+ shift` remains (one elementwise pass instead of two). Returns the
    fraction of BN layers folded. For the benchmark only: the layer's `call` is replaced.
    """
    import numpy as np
    import tensorflow as tf
    from keras import ops
    from pinet_tf.layers import GatedConv2D
    from pinet_tf.layers.gated_conv import LEAKY_SLOPE

    def folded_call(self, x, training=None):
        both = self.conv(self.pad(x))
        feature, gate = both[..., :self.filters], both[..., self.filters:]
        if self.activation == "leaky_relu":
            feature = ops.leaky_relu(feature, negative_slope=LEAKY_SLOPE)
        y = feature * ops.sigmoid(gate)
        if self._fold_scale is not None:
            y = y * self._fold_scale
        return y + self._fold_shift if self._fold_shift is not None else y

    layers = [layer for layer in _unique(_sublayers(generator))
              if isinstance(layer, GatedConv2D) and layer.bn is not None]
    folded = 0
    for layer in layers:
        bn = layer.bn
        scale = (np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon))
        shift = np.asarray(bn.beta) - np.asarray(bn.moving_mean) * scale
        layer._fold_shift = tf.constant(shift.astype("float32"))
        layer._fold_scale = None
        if np.all(scale > 0) or layer.activation is None:
            kernel = np.asarray(layer.conv.kernel).copy()
            bias = np.asarray(layer.conv.bias).copy()
            kernel[..., :layer.filters] *= scale
            bias[:layer.filters] *= scale
            layer.conv.kernel.assign(kernel)
            layer.conv.bias.assign(bias)
            folded += 1
        else:
            layer._fold_scale = tf.constant(scale.astype("float32"))
        layer.call = folded_call.__get__(layer)
    return folded / max(len(layers), 1)
