"""The built-in demo model: a generator trained on synthetic people, shipped inside the package so
that `pinet-tf transfer` gives a result right after the install, with no training first.

Files of this folder (package data, `setup.py`):

    generator.float16.npz   every variable of the generator, keyed by its Keras path
                            (`gp_gc1/conv/kernel`, ...), as float16 (half the bytes of float32)
    config.json             the `ModelConfig` that builds it
    MANIFEST.json           what it is: recipe, training command, data and held-out split, wall
                            time, the weights file's sha256 and the command that regenerates it

`load_demo()` builds the config's generator, checks the weights file against the manifest's
sha256, checks every tensor's name and shape, and loads the weights cast to float32; any problem
is one line naming the file. `write_demo(run, about)` writes the three files from a run directory
(`pinet-tf train`'s) or a `.weights.h5`, all or none (`pinet_tf.utils.atomic.atomic_files`); the
bytes of the weights file depend only on the weights (fixed zip timestamps). The shipped one is
the 'appearance' recipe's run (`benchmarks/quality_recipes.py`, `benchmarks/demo_model.py`;
docs/results/appearance.md); MANIFEST.json holds the exact commands, `REGENERATE` the last.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from pinet_tf.utils.weights import sha256_file

#: Where the shipped demo model lives (tests point it elsewhere).
DEMO_DIR = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = "generator.float16.npz"
CONFIG = "config.json"
MANIFEST = "MANIFEST.json"
#: The command that writes the shipped files from a finished run of the 'appearance' recipe
#: (MANIFEST.json's "regenerate" has the synth, make-tfrecords and train commands before it).
REGENERATE = "python -m benchmarks.demo_model --recipe appearance --run RUN --curve demo"
#: The line `transfer` / `texture` / `gates` print when --model is not given.
NOTICE = ("using the built-in demo model (trained on synthetic people, not on photos); "
          "--model RUN picks a trained run")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def float16_arrays(generator) -> dict:
    """Keras path -> float16 array for every variable (trainable or not) of `generator`."""
    arrays = {}
    for variable in generator.weights:
        value = np.asarray(variable, np.float32)
        half = value.astype(np.float16)
        if not np.isfinite(half).all():
            raise ValueError(f"{variable.path}: values up to {np.abs(value).max():.3g} do not fit "
                             f"float16 (max 65504)")
        arrays[variable.path] = half
    return arrays


def _write_npz(path: str, arrays: dict) -> None:
    """An `.npz` whose bytes depend only on the arrays (np.savez stamps the current time)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arrays[name], allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buffer.getvalue())


def write_demo(source: str, about: dict, out_dir: str | None = None) -> dict:
    """Write the demo files of the generator at `source` (a run directory or a `.weights.h5`)
    into `out_dir` (default `DEMO_DIR`); return the manifest. `about` (recipe, training command,
    data, ...) goes into the manifest as it is."""
    from pinet_tf.models.io import load_generator
    from pinet_tf.utils.atomic import atomic_files, write_json

    out_dir = out_dir or DEMO_DIR
    generator, cfg = load_generator(source)
    arrays = float16_arrays(generator)
    with atomic_files(out_dir) as tmp:
        _write_npz(os.path.join(tmp, WEIGHTS), arrays)
        cfg.save(os.path.join(tmp, CONFIG))
        manifest = {
            **about,
            "weights": {"file": WEIGHTS, "sha256": sha256_file(os.path.join(tmp, WEIGHTS)),
                        "bytes": os.path.getsize(os.path.join(tmp, WEIGHTS)),
                        "dtype": "float16", "tensors": len(arrays),
                        "parameters": int(sum(a.size for a in arrays.values()))},
            "config": CONFIG,
            "regenerate": about.get("regenerate", REGENERATE),
        }
        write_json(os.path.join(tmp, MANIFEST), manifest)
    return manifest


def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(f"built-in demo model: {path} is missing; regenerate it with "
                             f"`{REGENERATE}`, or give --model RUN")


def read_manifest(directory: str | None = None) -> dict:
    from pinet_tf.utils.readers import read_json

    path = os.path.join(directory or DEMO_DIR, MANIFEST)
    if not os.path.isfile(path):
        raise _missing(path)
    manifest = read_json(path, "demo model manifest")
    if not isinstance(manifest.get("weights"), dict) or "sha256" not in manifest["weights"]:
        raise ValueError(f"{path}: no weights.sha256 entry; regenerate it with `{REGENERATE}`")
    return manifest


def _read_arrays(path: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{path}: not a readable weights archive ({e})") from None


def load_demo(directory: str | None = None):
    """The demo generator and its config: (model, ModelConfig), weights float16 -> float32."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.models.generators import build_generator

    directory = directory or DEMO_DIR
    manifest = read_manifest(directory)
    weights, config = os.path.join(directory, WEIGHTS), os.path.join(directory, CONFIG)
    for path in (weights, config):
        if not os.path.isfile(path):
            raise _missing(path)
    digest, want = sha256_file(weights), manifest["weights"]["sha256"]
    if digest != want:
        raise ValueError(f"{weights}: sha256 {digest[:16]}... differs from {MANIFEST}'s "
                         f"{want[:16]}... (corrupted or replaced); regenerate it with "
                         f"`{REGENERATE}`")
    try:
        cfg = ModelConfig.load(config)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{config}: not a model config ({e})") from None
    arrays = _read_arrays(weights)
    generator = build_generator(cfg)
    names = [v.path for v in generator.weights]
    missing, extra = sorted(set(names) - set(arrays)), sorted(set(arrays) - set(names))
    if missing or extra:
        first = (f"{missing[0]} missing" if missing else f"{extra[0]} not in the model")
        raise ValueError(f"{weights} does not fit config {cfg.name!r}: {first} ({len(missing)} "
                         f"missing, {len(extra)} unexpected of {len(names)} tensors)")
    for variable in generator.weights:
        value = arrays[variable.path]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{weights}: tensor {variable.path} has shape {tuple(value.shape)}, "
                             f"config {cfg.name!r} needs {tuple(variable.shape)}")
    generator.set_weights([arrays[n].astype(np.float32) for n in names])
    return generator, cfg


def load_demo_predictor(directory: str | None = None):
    """`load_demo` as a predictor (`pinet_tf.inference.predictor.KerasPredictor`)."""
    from pinet_tf.inference.predictor import KerasPredictor

    return KerasPredictor(*load_demo(directory))
