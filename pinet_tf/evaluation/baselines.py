"""Trivial predictions that any pose-transfer model must beat, measured on the same pairs.

- copy-the-source: predict the source image unchanged (right appearance, wrong pose);
- mean-image: predict one image, the pixel-wise mean of the training split's target images
  (right average layout and colours, no person); records without a training split fall back to
  the evaluated targets themselves, an optimistic baseline that peeks at the answers;
- paint-by-parsing: no learned parameter; each class of a target parsing is painted with the mean
  colour of that class in the source image (found with the source parsing); background pixels get
  the source's background mean, and a class the source lacks gets the mean of the source person.
  Given the model's own predicted parsing ("paint_by_parsing") it receives nothing the image
  generator does not; given the true target parsing ("paint_by_parsing_true") it is the bar of a
  perfect parsing with flat colours. A PINet that loses to it has not learnt to carry appearance.

`person_l1` is the measure these are compared on: mean absolute error in 0..255 over the pixels
whose true target class is not background (the person), averaged per pair.

A model that does not beat both has learnt neither pose nor appearance; the numbers also put a
metric's scale in context (what "LPIPS 0.2" means on this data).
"""

from __future__ import annotations

import numpy as np

from pinet_tf.metrics.person import paint_by_parsing, person_l1  # noqa: F401 (re-exported)

COPY_SOURCE = "copy_source"
MEAN_IMAGE = "mean_image"
PAINT = "paint_by_parsing"
PAINT_TRUE = "paint_by_parsing_true"
FLAT_GREY = "flat_grey"
DESCRIPTIONS = {
    COPY_SOURCE: "prediction = the source image",
    MEAN_IMAGE: "prediction = pixel-wise mean of {n} target images of the {split!r} split "
                "(rounded to uint8)",
    PAINT: "prediction = each class of the model's predicted target parsing painted with that "
           "class's mean colour in the source image (no learned parameter)",
    PAINT_TRUE: "prediction = each class of the true target parsing painted with that class's "
                "mean colour in the source image (no learned parameter)",
    FLAT_GREY: "prediction = grey 128 everywhere",
}
#: Split whose targets make the mean image (when present and not the evaluated split).
MEAN_SPLIT = "train"


class AppearanceTally:
    """Running person-region L1 and per-region mean-colour errors (0..255) of one method over
    pairs (`pinet_tf.metrics.person.person_l1`, `pinet_tf.metrics.appearance.pair_measures`)."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def _add(self, key, value) -> None:
        if np.isfinite(value):
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def update(self, predictions, targets, target_parsings) -> None:
        from pinet_tf.metrics.appearance import pair_measures

        for v in person_l1(predictions, targets, target_parsings):
            self._add("person_l1", v)
        for p, t, s in zip(predictions, targets, target_parsings):
            for key, value in pair_measures(p, t, s).items():
                if key.startswith("colour_error_"):
                    self._add(key, value)

    def results(self) -> dict:
        return {k: self.sums[k] / self.counts[k] for k in sorted(self.sums)}


class MeanImage:
    """Running float64 sum of uint8 images [B,H,W,3] -> their rounded mean image."""

    def __init__(self):
        self.total = None
        self.count = 0

    def update(self, images) -> None:
        x = np.asarray(images, np.float64)
        self.total = x.sum(0) if self.total is None else self.total + x.sum(0)
        self.count += x.shape[0]

    def image(self) -> np.ndarray:
        if not self.count:
            raise ValueError("mean image of an empty set")
        return np.clip(np.round(self.total / self.count), 0, 255).astype(np.uint8)
