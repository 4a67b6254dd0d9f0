"""Tiny exports shared by the export, TFLite and serving tests (each made once per session).

Weights: random, with BatchNorm moving statistics set from one training-mode pass on synthetic
people, so that activations stay O(1) instead of shrinking to ~1e-9 (keras3-notes.md) and
parity tests cannot pass vacuously. Only a test that needs a trained model (the TFLite PSNR
thresholds) asks for `trained=True`, which uses the training helper's `trained_tiny_run`
session fixture (minutes of training) when it exists.
"""

import dataclasses

import keras
import numpy as np
import pytest

from pinet_tf.config import ModelConfig
from pinet_tf.models.batchnorm import statistics_from_batch

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
    from pinet_tf.models.transfer import pose_inputs
    return pose_inputs(cfg, arrays["source_image"], arrays.get("source_parsing"),
                       arrays["source_keypoints"], arrays["target_keypoints"])


def batch(cfg, count, seed=0):
    from pinet_tf.export.tflite import synthetic_inputs
    items = synthetic_inputs(cfg, count, seed)
    return {k: np.concatenate([x[k] for x in items]) for k in items[0]}


def calibrate_batchnorm(generator, cfg, seed=123):
    """Moving statistics := the statistics of one training-mode batch of 8 synthetic people."""
    statistics_from_batch(generator, model_inputs(cfg, batch(cfg, 8, seed)))


def tiny_export(request, tmp_path_factory, trained: bool = False, **changes) -> TinyExport:
    """Call from a module-scoped fixture; exports once per session (per kind of weights).
    `changes`: ModelConfig fields of an ablation variant (e.g. stages=1), random weights."""
    key = ("trained" if trained else "random") + "".join(f",{k}={v}" for k, v in
                                                         sorted(changes.items()))
    if key not in _CACHE:
        from pinet_tf.export.savedmodel import export_saved_model
        from pinet_tf.models import build_generator
        from pinet_tf.models.io import load_generator
        run_dir = None
        if trained:
            try:
                run_dir = request.getfixturevalue("trained_tiny_run")
            except pytest.FixtureLookupError:
                pass
        if run_dir is not None:
            generator, cfg = load_generator(str(run_dir))
        else:
            cfg = dataclasses.replace(ModelConfig.tiny(), **changes)
            keras.utils.set_random_seed(7)
            generator = build_generator(cfg)
            calibrate_batchnorm(generator, cfg)
        base = str(tmp_path_factory.mktemp("export") / "pinet")
        path = export_saved_model(generator, cfg, base)
        weights_bytes = 4 * sum(int(np.prod(v.shape)) for v in generator.variables)
        _CACHE[key] = TinyExport(base, path, generator, cfg, run_dir is not None, weights_bytes)
    return _CACHE[key]
