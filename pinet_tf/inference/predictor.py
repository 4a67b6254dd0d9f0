"""One small interface over the places a trained generator can come from.

The CLI and the batch tools only need "pose transfer" and "texture transfer" on compact tensors
in the model's frame; `load_predictor` returns an object with those two methods whether the
model is a run directory, a `.weights.h5` file (Keras, `pinet_tf.models.io.load_generator`) or
an exported SavedModel (its `pose_transfer` / `texture_transfer` signatures).

    predictor.image_size -> (H, W)
    predictor.transfer(source_image u8 [B,H,W,3], source_parsing u8 [B,H,W],
                       source_keypoints f32 [B,18,2], target_keypoints f32 [B,18,2])
        -> (image u8 [B,H,W,3], parsing u8 [B,H,W])
    A one-stage model (`ModelConfig.stages == 1`; `predictor.has_parsing` False) takes
    source_parsing=None (a given one is ignored) and returns (image, None); its `texture` raises
    a one-line ValueError (texture transfer needs the parsing generator).
    predictor.texture(source_image, source_parsing, source_keypoints,
                      condition_image, condition_parsing, regions [B,12] (1 = replace))
        -> image u8 [B,H,W,3]
"""

from __future__ import annotations

import os

import numpy as np


class KerasPredictor:
    """A Keras generator (`build_generator(cfg)`) with its config."""

    def __init__(self, generator, cfg):
        import tensorflow as tf

        from pinet_tf.models.texture import texture_transfer
        from pinet_tf.models.transfer import pose_transfer

        self.generator, self.config = generator, cfg
        self.image_size = tuple(cfg.image_size)
        self.has_parsing = cfg.has_parsing
        self.source = None  # where it was loaded from (`load_predictor`), for messages

        @tf.function(reduce_retracing=True)
        def _transfer(source_image, source_parsing, source_keypoints, target_keypoints):
            out = pose_transfer(generator, cfg, source_image, source_parsing, source_keypoints,
                                target_keypoints)
            return out["image"], out.get("parsing")

        @tf.function(reduce_retracing=True)
        def _transfer_one_stage(source_image, source_keypoints, target_keypoints):
            return pose_transfer(generator, cfg, source_image, None, source_keypoints,
                                 target_keypoints)["image"]

        @tf.function(reduce_retracing=True)
        def _texture(*args):
            return texture_transfer(generator, cfg, *args)

        self._transfer, self._texture = _transfer, _texture
        self._transfer_one_stage = _transfer_one_stage

    def transfer(self, source_image, source_parsing, source_keypoints, target_keypoints):
        if not self.has_parsing:
            image = self._transfer_one_stage(
                np.asarray(source_image, np.uint8), np.asarray(source_keypoints, np.float32),
                np.asarray(target_keypoints, np.float32))
            return image.numpy(), None
        if source_parsing is None:
            raise ValueError(f"{self.source or 'this model'}: source_parsing is needed (the "
                             f"model has a parsing generator)")
        image, parsing = self._transfer(
            np.asarray(source_image, np.uint8), np.asarray(source_parsing, np.uint8),
            np.asarray(source_keypoints, np.float32), np.asarray(target_keypoints, np.float32))
        return image.numpy(), parsing.numpy()

    def texture(self, source_image, source_parsing, source_keypoints, condition_image,
                condition_parsing, regions):
        from pinet_tf.models.texture import check_texture_model

        check_texture_model(self.config, self.source)
        return self._texture(
            np.asarray(source_image, np.uint8), np.asarray(source_parsing, np.uint8),
            np.asarray(source_keypoints, np.float32), np.asarray(condition_image, np.uint8),
            np.asarray(condition_parsing, np.uint8), np.asarray(regions, np.float32)).numpy()


class SavedModelPredictor:
    """An exported SavedModel; the model's frame is read from the signature's static shape."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = path
        # Keep the loaded object alive while its signatures are used (keras3-notes.md).
        self._loaded = tf.saved_model.load(path)
        signatures = self._loaded.signatures
        if "pose_transfer" not in signatures:
            raise ValueError(f"{path}: SavedModel has no 'pose_transfer' signature (it has "
                             f"{sorted(signatures)})")
        self._pose = signatures["pose_transfer"]
        self._tex = signatures.get("texture_transfer")
        spec = self._pose.structured_input_signature[1]["source_image"]
        h, w = spec.shape[1], spec.shape[2]
        if h is None or w is None:
            raise ValueError(f"{path}: pose_transfer's source_image has no static size")
        self.image_size = (int(h), int(w))
        self.config = None
        # A one-stage export's pose_transfer takes no source_parsing and returns no parsing.
        self.has_parsing = "source_parsing" in self._pose.structured_input_signature[1]

    def transfer(self, source_image, source_parsing, source_keypoints, target_keypoints):
        import tensorflow as tf
        inputs = {"source_image": tf.constant(source_image, tf.uint8),
                  "source_keypoints": tf.constant(source_keypoints, tf.float32),
                  "target_keypoints": tf.constant(target_keypoints, tf.float32)}
        if self.has_parsing:
            if source_parsing is None:
                raise ValueError(f"{self.path}: source_parsing is needed (the model has a "
                                 f"parsing generator)")
            inputs["source_parsing"] = tf.constant(source_parsing, tf.uint8)
        out = self._pose(**inputs)
        return out["image"].numpy(), out["parsing"].numpy() if "parsing" in out else None

    def texture(self, source_image, source_parsing, source_keypoints, condition_image,
                condition_parsing, regions):
        import tensorflow as tf
        if self._tex is None:
            if not self.has_parsing:
                from pinet_tf.models.texture import one_stage_texture_error

                raise ValueError(one_stage_texture_error(self.path))
            raise ValueError(f"{self.path}: SavedModel has no 'texture_transfer' signature")
        out = self._tex(
            source_image=tf.constant(source_image, tf.uint8),
            source_parsing=tf.constant(source_parsing, tf.uint8),
            source_keypoints=tf.constant(source_keypoints, tf.float32),
            condition_image=tf.constant(condition_image, tf.uint8),
            condition_parsing=tf.constant(condition_parsing, tf.uint8),
            regions=tf.constant((np.asarray(regions) > 0).astype(np.uint8)))
        return out["image"].numpy()


class TFLitePredictor:
    """A `.tflite` file from `pinet-tf export-tflite`: its one signature (pose_transfer, which
    export-tflite calls serving_default, or texture_transfer) run by
    `pinet_tf.export.tflite.TFLiteRunner`; the model's frame and whether it takes a parsing are
    read from the signature's inputs, so no config is needed."""

    def __init__(self, path):
        from pinet_tf.utils.extras import require_extra

        require_extra("transfer/texture --model MODEL.tflite", "tflite",
                      "ai_edge_litert.interpreter")
        from ai_edge_litert.interpreter import Interpreter

        from pinet_tf.export.tflite import TFLiteRunner

        self.path, self.config = path, None
        try:
            probe = Interpreter(model_path=path)
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"{path}: cannot load the TFLite model ({str(e).splitlines()[0]})"
                             ) from None
        signatures = probe.get_signature_list()
        self.kind = "texture" if "texture_transfer" in signatures else "transfer"
        name = "texture_transfer" if self.kind == "texture" else next(
            (n for n in ("pose_transfer", "serving_default") if n in signatures), None)
        if name is None or "source_image" not in signatures[name]["inputs"]:
            raise ValueError(f"{path}: not a pinet-tf TFLite model (signatures: "
                             f"{sorted(signatures)}); make one with pinet-tf export-tflite")
        self._run = TFLiteRunner(path, signature=name)
        details = self._run.runner.get_input_details()
        shape = details["source_image"]["shape"]
        self.image_size = (int(shape[1]), int(shape[2]))
        self.has_parsing = "source_parsing" in details

    def _need(self, kind):
        if self.kind != kind:
            have = "texture_transfer" if self.kind == "texture" else "pose_transfer"
            raise ValueError(f"{self.path}: this TFLite file holds the {have} signature only; "
                             f"export-tflite --signature "
                             f"{'texture_transfer' if kind == 'texture' else 'pose_transfer'} "
                             f"makes the one {kind} needs")

    def transfer(self, source_image, source_parsing, source_keypoints, target_keypoints):
        self._need("transfer")
        inputs = dict(source_image=np.asarray(source_image, np.uint8),
                      source_keypoints=np.asarray(source_keypoints, np.float32),
                      target_keypoints=np.asarray(target_keypoints, np.float32))
        if self.has_parsing:
            inputs["source_parsing"] = np.asarray(source_parsing, np.uint8)
        out = self._run(**inputs)
        return out["image"], out.get("parsing")

    def texture(self, source_image, source_parsing, source_keypoints, condition_image,
                condition_parsing, regions):
        self._need("texture")
        return self._run(source_image=np.asarray(source_image, np.uint8),
                         source_parsing=np.asarray(source_parsing, np.uint8),
                         source_keypoints=np.asarray(source_keypoints, np.float32),
                         condition_image=np.asarray(condition_image, np.uint8),
                         condition_parsing=np.asarray(condition_parsing, np.uint8),
                         regions=(np.asarray(regions) > 0).astype(np.uint8))["image"]


def is_saved_model(path) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def model_config(path, config=None):
    """The ModelConfig of a model source without loading its weights (None when a SavedModel
    has no config.json): lets the verbs check their inputs against the model first."""
    path = os.fspath(path)
    if path.lower().endswith(".tflite"):
        return None  # its signature, read when it loads, says what it needs
    from pinet_tf.export.savedmodel import latest_version_dir, load_export_config

    export = path if is_saved_model(path) else (latest_version_dir(path)
                                                if os.path.isdir(path) else None)
    if export:
        try:
            return load_export_config(export)
        except FileNotFoundError:
            return None
    from pinet_tf.models.io import resolve_weights

    return resolve_weights(path, config)[1]


def load_predictor(path, config=None):
    """RUN_DIR, WEIGHTS (.weights.h5 + sidecar config), a SavedModel dir or an export BASE
    (its newest version) -> a predictor."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: model not found (expected a run directory, a "
                                f".weights.h5 file or a SavedModel directory)")
    if is_saved_model(path):
        return SavedModelPredictor(path)
    if path.lower().endswith(".tflite") and os.path.isfile(path):
        return TFLitePredictor(path)
    from pinet_tf.export.savedmodel import latest_version_dir
    newest = latest_version_dir(path)  # an export BASE (`pinet-tf export`'s BASE/<version>/)
    if newest:
        return SavedModelPredictor(newest)
    from pinet_tf.models.io import load_generator
    generator, cfg = load_generator(path, config)
    predictor = KerasPredictor(generator, cfg)
    predictor.source = path
    return predictor
