"""Saving and loading weights with the config that built them.

A weights file alone cannot rebuild a model, so every place that writes one writes the config
beside it (`<name>.weights.h5` + `<name>.config.json`, or a run directory's `config.json`).
`load_generator` accepts a run directory or a weights file and fails with a message naming the
missing file, instead of Keras's generic errors.

The discriminators sit beside their generator: in a run directory as `RUN_POSE_DISCRIMINATOR` /
`RUN_APPEARANCE_DISCRIMINATOR`; beside `PREFIX.weights.h5` (what `pinet-tf import-torch
--discriminators` writes) as `PREFIX.pose_discriminator.weights.h5` /
`PREFIX.appearance_discriminator.weights.h5` (`discriminator_weights_paths`).
"""

import os
import re

from pinet_tf.config import ModelConfig, resolve_config
from pinet_tf.models.generators import build_generator
from pinet_tf.utils.atomic import atomic_path

RUN_WEIGHTS = "generator.weights.h5"
RUN_CONFIG = "config.json"
#: The discriminators' names: Keras model names, and the files' middle part.
DISCRIMINATORS = ("pose_discriminator", "appearance_discriminator")
RUN_POSE_DISCRIMINATOR, RUN_APPEARANCE_DISCRIMINATOR = (f"{n}.weights.h5" for n in DISCRIMINATORS)


def sidecar_config_path(weights_path: str) -> str:
    """`x.weights.h5` -> `x.config.json`."""
    base = weights_path[:-len(".weights.h5")] if weights_path.endswith(".weights.h5") \
        else os.path.splitext(weights_path)[0]
    return base + ".config.json"


def discriminator_weights_paths(source: str) -> tuple:
    """(pose, appearance) discriminator files that belong to a run directory or to the generator
    file `PREFIX.weights.h5`."""
    if os.path.isdir(source):
        return tuple(os.path.join(source, f"{n}.weights.h5") for n in DISCRIMINATORS)
    if not source.endswith(".weights.h5"):
        raise ValueError(f"weights file name must end in .weights.h5, got {source!r}")
    base = source[:-len(".weights.h5")]
    return tuple(f"{base}.{n}.weights.h5" for n in DISCRIMINATORS)


def save_weights_atomic(model, weights_path: str) -> None:
    """`model.save_weights` to a temporary sibling, then rename: never a half-written file."""
    if not weights_path.endswith(".weights.h5"):
        raise ValueError(f"weights file name must end in .weights.h5, got {weights_path!r}")
    with atomic_path(weights_path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)


_SHAPES = re.compile(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))"
                     r".*?Target variable: <Variable path=([^,>]+)", re.S)


def load_weights_checked(model, weights_path: str, cfg: ModelConfig) -> None:
    """`model.load_weights`, refusing a file that does not fit with one line naming the file and
    the first mismatched tensor (Keras's own message lists every layer)."""
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(f"{model.name} weights not found: {weights_path}")
    try:
        model.load_weights(weights_path)
    except Exception as e:  # Keras raises several types for a foreign or truncated file
        text = str(e)
        found = _SHAPES.search(text)
        if found:
            need, got, tensor = found.groups()
            why = f"tensor {tensor} has shape {got} in the file, config {cfg.name!r} needs {need}"
        else:
            why = text.strip().splitlines()[0] if text.strip() else type(e).__name__
        raise ValueError(f"cannot load {model.name} weights from {weights_path}: {why}") from None


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
    if isinstance(config, (ModelConfig, str)):
        cfg = resolve_config(config)  # a preset name or a config JSON file
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
    load_weights_checked(generator, weights, cfg)
    return generator, cfg
