"""One tiny export per test session, shared by the export, TFLite and serving tests.

Weights: the training helper's `trained_tiny_run` session fixture when it exists (TFLite PSNR
thresholds are about trained weights); otherwise random weights whose BatchNorm moving
statistics are set from one training-mode pass on synthetic people, so that activations stay
O(1) instead of shrinking to ~1e-9 (keras3-notes.md) and parity tests cannot pass vacuously.
"""

import dataclasses

import keras
import numpy as np
import pytest

from pinet_tf.config import ModelConfig

_CACHE = {}


@dataclasses.dataclass
class TinyExport:
    base: str            # BASE (model base path)
    path: str            # BASE/1
    generator: object    # the Keras model that was exported
    cfg: ModelConfig
    trained: bool        # True when the weights come from trained_tiny_run
    weights_bytes: int   # 4 bytes per variable element


def model_inputs(cfg, arrays):
    """Compact arrays -> the Keras generator's inputs (what the signatures compute in-graph)."""
    from pinet_tf.models.encoding import image_to_float, keypoints_to_heatmaps, parsing_to_onehot
    h, w = cfg.image_size
    return {"source_image": image_to_float(arrays["source_image"]),
            "source_parsing_onehot": parsing_to_onehot(arrays["source_parsing"]),
            "source_heatmaps": keypoints_to_heatmaps(arrays["source_keypoints"], h, w,
                                                     cfg.heatmap_sigma),
            "target_heatmaps": keypoints_to_heatmaps(arrays["target_keypoints"], h, w,
                                                     cfg.heatmap_sigma)}


def batch(cfg, count, seed=0):
    from pinet_tf.export.tflite import synthetic_inputs
    items = synthetic_inputs(cfg, count, seed)
    return {k: np.concatenate([x[k] for x in items]) for k in items[0]}


def calibrate_batchnorm(generator, cfg, seed=123):
    """Moving statistics := the statistics of one training-mode batch (momentum 0 for one call)."""
    layers = [layer for layer in generator._flatten_layers()
              if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    generator(model_inputs(cfg, batch(cfg, 8, seed)), training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


def tiny_export(request, tmp_path_factory) -> TinyExport:
    """Call from a module-scoped fixture; exports once per session."""
    if "export" not in _CACHE:
        from pinet_tf.export.savedmodel import export_saved_model
        from pinet_tf.models import build_generator
        from pinet_tf.models.io import load_generator
        try:
            run_dir = request.getfixturevalue("trained_tiny_run")
        except pytest.FixtureLookupError:
            run_dir = None
        if run_dir is not None:
            generator, cfg = load_generator(str(run_dir))
        else:
            cfg = ModelConfig.tiny()
            keras.utils.set_random_seed(7)
            generator = build_generator(cfg)
            calibrate_batchnorm(generator, cfg)
        base = str(tmp_path_factory.mktemp("export") / "pinet")
        path = export_saved_model(generator, cfg, base)
        weights_bytes = 4 * sum(int(np.prod(v.shape)) for v in generator.variables)
        _CACHE["export"] = TinyExport(base, path, generator, cfg, run_dir is not None,
                                      weights_bytes)
    return _CACHE["export"]
