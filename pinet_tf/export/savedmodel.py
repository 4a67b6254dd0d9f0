"""Versioned SavedModels with compact-input signatures, the layout TF-Serving serves.

    BASE/<version>/saved_model.pb, variables/, config.json, assets/INPUTS.txt

Signatures take what a client has (uint8 images, uint8 label maps, (y, x) keypoints) and run
`pinet_tf.models.transfer.pose_transfer` / `pinet_tf.models.texture.texture_transfer`, the same
`pinet_tf.models.encoding` conversions the data pipeline uses, so a served model sees exactly what
it saw in training. Their inputs and in-graph checks come from one table,
`pinet_tf.export.signatures.SIGNATURE_INPUTS` (the server's checks read it too):

* `serving_default` = `pose_transfer`: source_image uint8 [B,H,W,3], source_parsing uint8 [B,H,W],
  source_keypoints / target_keypoints float32 [B,18,2] -> image uint8 [B,H,W,3],
  parsing uint8 [B,H,W] (argmax of G_p's logits).
* `texture_transfer` (paper Eq. 11, `pinet_tf.models.texture`): source_image, source_parsing,
  source_keypoints, condition_image, condition_parsing, regions uint8 [B,12] (1 = replace that
  source class) -> image uint8 [B,H,W,3].
* A one-stage model (`ModelConfig.stages == 1`): `pose_transfer` takes source_image,
  source_keypoints, target_keypoints and returns image only; there is no `texture_transfer`
  (it needs the parsing generator).

Why a `tf.Module` instead of `model.export` / `ExportArchive`: ExportArchive stored every variable
twice (156 MB for 80 MB of weights, `keras3-notes.md`). Here the module tracks the underlying
`tf.Variable`s once and holds the Keras model out of TF's object tracking, so the SavedModel is the
size of the weights; its signatures call the model with `training=False` (BatchNorm on moving
statistics) and `TFLiteConverter.from_saved_model` keeps the weights (checked by the tests).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import textwrap

import tensorflow as tf

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES, ModelConfig
from pinet_tf.export.signatures import (ALIASES, DEFAULT_SIGNATURE, POSE_TRANSFER,
                                        TEXTURE_TRANSFER, input_specs, signature_table)
from pinet_tf.models.texture import texture_transfer
from pinet_tf.models.transfer import pose_transfer
from pinet_tf.utils.atomic import atomic_claim, remove_stale

CONFIG_FILE = "config.json"
INPUTS_NOTE = os.path.join("assets", "INPUTS.txt")
#: A temporary export folder older than this is a killed export's and is removed by the next one.
STALE_EXPORT_SECONDS = 3600.0
_VERSION_RE = re.compile(r"^[0-9]+$")
#: The highest version TF-Serving can hold (an int64), as its model server bounds it.
MAX_VERSION = 2 ** 63 - 1
log = logging.getLogger("pinet_tf.serving")

__all__ = ["DEFAULT_SIGNATURE", "POSE_TRANSFER", "TEXTURE_TRANSFER", "ServingModule",
           "export_saved_model", "input_specs", "latest_version_dir", "list_versions",
           "load_export_config", "next_version"]


def graph_checks(signature: str, inputs: dict, table: dict) -> list:
    """In-graph asserts of a signature table's inputs (`signature_table`: same batch size,
    ranges, finiteness)."""
    names = list(inputs)
    first = tf.shape(inputs[names[0]])[0]
    checks = [tf.debugging.assert_equal(  # Keras would broadcast or fail late
        tf.shape(inputs[n])[0], first,
        message=f"input {n!r} has a different batch size than {names[0]!r}") for n in names[1:]]
    for spec in table[signature]:
        value, message = inputs[spec.name], f"{spec.name}: {spec.rule}"
        if spec.low is not None:
            checks.append(tf.debugging.assert_greater_equal(
                value, tf.constant(spec.low, value.dtype), message=message))
        if spec.high is not None:
            checks.append(tf.debugging.assert_less_equal(
                value, tf.constant(spec.high, value.dtype), message=message))
        if spec.finite:
            checks.append(tf.debugging.assert_all_finite(value, message=message))
    return checks


class ServingModule(tf.Module):
    """The generator's variables, tracked once, and the compact-input signatures."""

    def __init__(self, generator, cfg: ModelConfig, validate: bool = True):
        super().__init__(name="pinet")
        # Only the tf.Variables are tracked; the Keras model is kept in a closure that TF's
        # object tracking does not walk, so nothing is saved twice.
        self.generator_variables = [getattr(v, "value", v) for v in generator.variables]
        self._get_generator = (lambda g: (lambda: g))(generator)
        self._cfg = cfg
        self._validate = validate
        specs = input_specs(cfg)
        # Traced once each, and saved only as signatures (not also as tracked methods).
        functions = {POSE_TRANSFER: self._pose_transfer, TEXTURE_TRANSFER: self._texture_transfer}
        self._concrete = (lambda c: (lambda: c))({  # a one-stage model has no texture_transfer
            name: tf.function(functions[name]).get_concrete_function(spec)
            for name, spec in specs.items()})

    def _checks(self, signature, inputs):
        return graph_checks(signature, inputs, signature_table(self._cfg)) \
            if self._validate else []

    def _pose_transfer(self, inputs):
        with tf.control_dependencies(self._checks(POSE_TRANSFER, inputs)):
            return pose_transfer(self._get_generator(), self._cfg, inputs["source_image"],
                                 inputs.get("source_parsing"), inputs["source_keypoints"],
                                 inputs["target_keypoints"])

    def _texture_transfer(self, inputs):
        with tf.control_dependencies(self._checks(TEXTURE_TRANSFER, inputs)):
            image = texture_transfer(
                self._get_generator(), self._cfg, inputs["source_image"],
                inputs["source_parsing"], inputs["source_keypoints"], inputs["condition_image"],
                inputs["condition_parsing"], inputs["regions"])
        return {"image": image}

    def signatures(self) -> dict:
        """Signature name -> concrete function (serving_default is pose_transfer)."""
        fns = self._concrete()
        return {DEFAULT_SIGNATURE: fns[POSE_TRANSFER], **fns}


#: What each signature returns and does, for the note (its inputs come from SIGNATURE_INPUTS).
_SIGNATURE_NOTES = {
    POSE_TRANSFER: ("", "image uint8 [B,H,W,3], parsing uint8 [B,H,W] (predicted target "
                        "parsing)"),
    TEXTURE_TRANSFER: ("paper Eq. 11: replace some parsing regions of the source person by the "
                       "condition person's clothes, rendered in the source pose",
                       "image uint8 [B,H,W,3]; pixels outside the regions are the source's, "
                       "unchanged"),
}


def inputs_note(cfg: ModelConfig) -> str:
    """The human-readable input conventions shipped in assets/INPUTS.txt, one line per input of
    the model's `signature_table` (name, dtype, batched shape in this model's frame, valid values)."""
    h, w = cfg.image_size
    frame = lambda text: text.replace("H,W", f"{h},{w}")  # noqa: E731
    aliases = {target: alias for alias, target in ALIASES.items()}
    one_stage = "" if cfg.has_parsing else (", one-stage (stages=1: no parsing generator, paper "
                                            "Table 3's one-level variant)")
    lines = [f"PINet generator export (pinet-tf), config {cfg.name!r}, image {h}x{w}{one_stage}.",
             "", "Signatures (inputs and outputs batched along the first axis, B >= 1, the same B for "
             "all inputs):"]
    for signature, specs in signature_table(cfg).items():
        about, outputs = _SIGNATURE_NOTES.get(signature, ("", ""))
        if signature == POSE_TRANSFER and not cfg.has_parsing:
            outputs = "image uint8 [B,H,W,3]"
        name = f"{aliases[signature]} = {signature}" if signature in aliases else signature
        lines.append(f"  {name}")
        lines += textwrap.wrap(about, 96, initial_indent="    ", subsequent_indent="    ")
        for spec in specs:
            shape = "[" + ",".join(["B"] + [str(d) for d in spec.example_shape((h, w))]) + "]"
            lines.append(f"    {spec.name:<17} {spec.dtype:<7} {shape:<13} {spec.rule}")
        if outputs:
            lines.append(f"    -> {frame(outputs)}")
    classes = ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES))
    keypoints = ", ".join(f"{i} {n}" for i, n in enumerate(KEYPOINT_NAMES))
    if not cfg.has_parsing:
        lines.append("  No texture_transfer: texture transfer needs the parsing generator.")
    lines += ["", f"Keypoints are (y, x) in pixels of the {h}x{w} frame, -1 = missing.",
              f"Parsing classes: {classes}",
              f"Keypoints (OpenPose COCO-18 order): {keypoints}",
              *textwrap.wrap(f"Heatmaps are Gaussians of sigma {cfg.heatmap_sigma:g} px "
                             "computed in the graph; BatchNorm runs on its moving statistics "
                             "(inference mode). config.json beside saved_model.pb is the "
                             "ModelConfig.", 96), ""]
    return "\n".join(lines)


def _version_names(base: str) -> dict:
    """{version: folder name} of the integer folders in `base` (1..MAX_VERSION); a folder whose
    number is out of that range is skipped with a log line (one odd folder never takes the
    served model down)."""
    out = {}
    for name in os.listdir(base) if os.path.isdir(base) else []:
        if not _VERSION_RE.match(name):
            continue
        version = int(name) if len(name) <= 20 else MAX_VERSION + 1
        if not 1 <= version <= MAX_VERSION:
            log.warning("ignoring %s: version folders are integers 1..%d (TF-Serving's int64)",
                        os.path.join(base, name[:40]), MAX_VERSION)
            continue
        out.setdefault(version, name)
    return out


def list_versions(base: str) -> list:
    """Integer version folders under `base` that hold a saved_model.pb, ascending (numbers
    outside 1..MAX_VERSION are ignored with a log line)."""
    return sorted(v for v, name in _version_names(base).items()
                  if os.path.exists(os.path.join(base, name, "saved_model.pb")))


def latest_version_dir(base: str) -> str | None:
    """`base/<highest version holding a saved_model.pb>`, or None when there is none."""
    versions = list_versions(base)
    return os.path.join(base, str(versions[-1])) if versions else None


def next_version(base: str) -> int:
    """1 + the highest integer folder name in `base` (1 when there is none)."""
    return max(_version_names(base), default=0) + 1


def check_version(version) -> int | None:
    """`--version` (an int or its text): None, or an integer 1..MAX_VERSION (TF-Serving's
    int64); anything else, 5,000 digits included, is one ValueError."""
    if version is None:
        return None
    text = str(version).strip()
    if not re.fullmatch(r"-?[0-9]{1,20}", text) or not 1 <= int(text) <= MAX_VERSION:
        raise ValueError(f"--version must be an integer from 1 to {MAX_VERSION} (TF-Serving's "
                         f"int64), got {text[:40]}")
    return int(text)


def export_target(base: str, version: int | None = None) -> str:
    """`base/<version>` to export to (the next free version by default); a version out of range,
    an existing version or a `base` that is a file are refused."""
    version = check_version(version)
    if os.path.exists(base) and not os.path.isdir(base):
        raise ValueError(f"export base path {base} is a file, not a folder")
    version = next_version(base) if version is None else version
    if version > MAX_VERSION:
        raise ValueError(f"{base}: no free version left below {MAX_VERSION}")
    final = os.path.join(base, str(version))
    if os.path.exists(final):
        raise ValueError(f"version {version} already exists in {base}; pass another --version "
                         f"or omit it to use the next free one ({next_version(base)})")
    return final


def export_saved_model(generator, cfg: ModelConfig, base: str, version: int | None = None,
                       validate: bool = True) -> str:
    """Write `base/<version>/` atomically and return its path.

    The SavedModel is written into a hidden temporary sibling and renamed when complete
    (`pinet_tf.utils.atomic.atomic_claim`), so a polling server never sees half a model;
    temporary folders that killed exports left (older than `STALE_EXPORT_SECONDS`) are removed
    first. `version` defaults to the next free integer, claimed atomically when the export is
    complete: two exports to one base at once get two versions (the later one the next number).
    An existing explicit version is refused rather than overwritten. Bad arguments are refused
    before anything is written (`base` is not even created).
    """
    final = export_target(base, version)
    module = ServingModule(generator, cfg, validate=validate)
    remove_stale(base, older_than_seconds=STALE_EXPORT_SECONDS)
    if version is None:
        first = int(os.path.basename(final))
        names = itertools.takewhile(lambda n: int(n) <= MAX_VERSION,
                                    (str(v) for v in itertools.count(first)))
    else:
        names = [os.path.basename(final)]
    try:
        with atomic_claim(base, names) as claim:
            tf.saved_model.save(module, claim.tmp, signatures=module.signatures())
            cfg.save(os.path.join(claim.tmp, CONFIG_FILE))
            os.makedirs(os.path.join(claim.tmp, "assets"), exist_ok=True)
            with open(os.path.join(claim.tmp, INPUTS_NOTE), "w") as f:
                f.write(inputs_note(cfg))
    except FileExistsError:
        raise ValueError(f"version {os.path.basename(final)} of {base} was taken by another "
                         f"export meanwhile; pass another --version") from None
    return claim.path


def export_from_source(source: str, base: str, config=None, version: int | None = None) -> str:
    """`pinet-tf export`: load a RUN_DIR or weights file, then `export_saved_model`."""
    from pinet_tf.models.io import load_generator
    export_target(base, version)  # refused before the weights are read
    generator, cfg = load_generator(source, config)
    return export_saved_model(generator, cfg, base, version)


def load_export_config(export_dir: str) -> ModelConfig:
    """The ModelConfig an export carries (config.json beside saved_model.pb)."""
    path = os.path.join(export_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: not a pinet-tf export?")
    return ModelConfig.load(path)
