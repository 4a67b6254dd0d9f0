"""Saving and loading generator weights with the config that built them.

A weights file alone cannot rebuild a model, so every place that writes one writes the config
beside it (`<name>.weights.h5` + `<name>.config.json`, or a run directory's `config.json`).
`load_generator` accepts a run directory or a weights file and fails with a message naming the
missing file, instead of Keras's generic errors.
"""

import os

from pinet_tf.config import ModelConfig
from pinet_tf.models.generators import build_generator

RUN_WEIGHTS = "generator.weights.h5"
RUN_CONFIG = "config.json"


def sidecar_config_path(weights_path: str) -> str:
    """`x.weights.h5` -> `x.config.json`."""
    base = weights_path[:-len(".weights.h5")] if weights_path.endswith(".weights.h5") \
        else os.path.splitext(weights_path)[0]
    return base + ".config.json"


def save_weights_atomic(model, weights_path: str) -> None:
    """`model.save_weights` to a temp file, then rename: never a half-written weights file."""
    if not weights_path.endswith(".weights.h5"):
        raise ValueError(f"weights file name must end in .weights.h5, got {weights_path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(weights_path)), exist_ok=True)
    tmp = weights_path[:-len(".weights.h5")] + ".tmp.weights.h5"
    model.save_weights(tmp)
    os.replace(tmp, weights_path)


def save_generator(generator, cfg: ModelConfig, weights_path: str) -> None:
    """Write the config sidecar, then the weights atomically."""
    if not weights_path.endswith(".weights.h5"):
        raise ValueError(f"weights file name must end in .weights.h5, got {weights_path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(weights_path)), exist_ok=True)
    cfg.save(sidecar_config_path(weights_path))
    save_weights_atomic(generator, weights_path)


def resolve_weights(source: str, config=None):
    """(weights path, ModelConfig) for a run directory or a weights file."""
    if os.path.isdir(source):
        weights, cfg_path = os.path.join(source, RUN_WEIGHTS), os.path.join(source, RUN_CONFIG)
    else:
        weights, cfg_path = source, sidecar_config_path(source)
    if not os.path.exists(weights):
        raise FileNotFoundError(f"generator weights not found: {weights}")
    if isinstance(config, ModelConfig):
        cfg = config
    elif isinstance(config, str):
        cfg = ModelConfig.preset(config)
    elif os.path.exists(cfg_path):
        cfg = ModelConfig.load(cfg_path)
    else:
        raise FileNotFoundError(
            f"no config for {weights}: expected {cfg_path} or an explicit config name")
    return weights, cfg


def load_generator(source: str, config=None):
    """Build the generator and load its weights. Returns (model, ModelConfig)."""
    weights, cfg = resolve_weights(source, config)
    generator = build_generator(cfg)
    try:
        generator.load_weights(weights)
    except Exception as e:  # Keras raises several types for a foreign or truncated file
        raise ValueError(f"cannot load generator weights from {weights} into config "
                         f"{cfg.name!r}: {e}") from e
    return generator, cfg
