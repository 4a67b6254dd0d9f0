"""TFDS builder for DeepFashion In-shop pose-transfer pairs in the authors' (PATN) layout.

DeepFashion cannot be downloaded automatically (licence, manual request), so the builder reads a
copy the user already has from ``manual_dir``, through the same reader as `make-tfrecords`
(`pinet_tf.datasets.patn`: 256x256 originals cropped to 256x176, errors naming file and line).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from pinet_tf.datasets import patn
from pinet_tf.datasets.tfds.features import pair_example, pair_features


class PinetDeepfashionPairs(tfds.core.GeneratorBasedBuilder):
    """DeepFashion pose-transfer pairs (PATN split: 101,966 train / 8,570 test pairs)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "PATN pairs with 18 keypoints and 12-class parsing."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put the authors' data folder (PATN / PINet layout) in manual_dir:
      train/, test/ (images), trainSPL2/, testSPL2/ (12-class parsing PNGs),
      fasion-resize-annotation-{train,test}.csv, fasion-resize-pairs-{train,test}.csv.
    Parsing maps from a CIHP or LIP parser: convert them with `pinet-tf convert-parsing` first.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="DeepFashion In-shop pose-transfer pairs (PATN split) with COCO-18 "
                        "keypoints and 12-class parsing maps, for PINet.",
            features=pair_features(None, None),
            homepage="https://mmlab.ie.cuhk.edu.hk/projects/DeepFashion.html",
        )

    def _split_generators(self, dl_manager):
        root = str(dl_manager.manual_dir)
        return {split: self._generate_examples(root, split) for split in patn.SPLITS}

    def _generate_examples(self, root, split):
        reader = patn.PatnReader(root, split)
        for src, tgt in reader.iter_pairs():
            yield f"{src.name}->{tgt.name}", pair_example(src, tgt)
