"""The export's input contract, as one declarative table: every signature's inputs with their
dtype, per-example shape and the range of valid values.

Read by the graph checks of the exported signatures (`pinet_tf.export.savedmodel`) and by the
server's NumPy checks before a model runs (`pinet_tf.serving.validation`), so the two cannot
disagree. Shapes are per example (the batch axis B is free); "H" and "W" stand for the model's
frame (`ModelConfig.image_size`).

A one-stage model (`ModelConfig.stages == 1`, no parsing generator) exports `pose_transfer`
without `source_parsing` (and returns no parsing) and no `texture_transfer`:
`signature_table(cfg)` is the table of the model at hand.
"""

from __future__ import annotations

import dataclasses

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS

POSE_TRANSFER = "pose_transfer"
TEXTURE_TRANSFER = "texture_transfer"
#: The signature a request without a signature name gets (TF-Serving's default key).
DEFAULT_SIGNATURE = "serving_default"
#: Signature keys that are another signature under a second name.
ALIASES = {DEFAULT_SIGNATURE: POSE_TRANSFER}


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One input: numpy dtype name, per-example shape, valid values, and the rule in words."""

    name: str
    dtype: str                   # "uint8" | "float32"
    shape: tuple                 # per example; "H"/"W" = the model's frame
    low: float | None = None     # inclusive bounds (None: whatever the dtype holds)
    high: float | None = None
    finite: bool = False         # NaN and inf are refused
    rule: str = ""               # what a valid value is, for error messages

    def example_shape(self, image_size) -> tuple:
        h, w = image_size
        return tuple({"H": h, "W": w}.get(d, d) for d in self.shape)

    def tensor_spec(self, image_size):
        """tf.TensorSpec [None, *example_shape], named after the input."""
        import tensorflow as tf
        return tf.TensorSpec((None,) + self.example_shape(image_size), tf.dtypes.as_dtype(
            self.dtype), name=self.name)


def _image(name):
    return InputSpec(name, "uint8", ("H", "W", 3), rule="RGB, 0..255")


def _parsing(name):
    return InputSpec(name, "uint8", ("H", "W"), high=NUM_CLASSES - 1,
                     rule=f"parsing labels must be 0..{NUM_CLASSES - 1}")


def _keypoints(name):
    return InputSpec(name, "float32", (NUM_KEYPOINTS, 2), finite=True,
                     rule="keypoints must be finite (use -1 for a missing one)")


#: Signature -> its inputs, in order.
SIGNATURE_INPUTS = {
    POSE_TRANSFER: (_image("source_image"), _parsing("source_parsing"),
                    _keypoints("source_keypoints"), _keypoints("target_keypoints")),
    TEXTURE_TRANSFER: (_image("source_image"), _parsing("source_parsing"),
                       _keypoints("source_keypoints"), _image("condition_image"),
                       _parsing("condition_parsing"),
                       InputSpec("regions", "uint8", (NUM_CLASSES,), high=1,
                                 rule="regions must be 0 or 1 per class (1 = replace)")),
}


#: The one-stage model's signatures: pose transfer without a parsing input; no texture transfer.
ONE_STAGE_SIGNATURE_INPUTS = {
    POSE_TRANSFER: tuple(s for s in SIGNATURE_INPUTS[POSE_TRANSFER] if s.name != "source_parsing"),
}


def signature_table(cfg) -> dict:
    """Signature -> its inputs for this model (`SIGNATURE_INPUTS`, or the one-stage table)."""
    return SIGNATURE_INPUTS if cfg.has_parsing else ONE_STAGE_SIGNATURE_INPUTS


def signature_inputs(signature: str) -> dict:
    """{input name: InputSpec} of a signature key (aliases resolved); {} when not ours. A
    one-stage export's inputs are a subset of these (the server looks them up by name)."""
    return {s.name: s for s in SIGNATURE_INPUTS.get(ALIASES.get(signature, signature), ())}


def input_specs(cfg) -> dict:
    """Signature name -> {input name: tf.TensorSpec [None, ...]} for the model's frame."""
    return {sig: {s.name: s.tensor_spec(cfg.image_size) for s in specs}
            for sig, specs in signature_table(cfg).items()}
