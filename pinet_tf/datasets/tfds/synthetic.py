"""TFDS builder for the synthetic people set (`pinet_tf.datasets.synthetic`), made on the fly."""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from pinet_tf.datasets import patn, synthetic
from pinet_tf.datasets.tfds.features import pair_example, pair_features


@dataclasses.dataclass
class SyntheticConfig(tfds.core.BuilderConfig):
    height: int = 256
    width: int = 176
    identities: int = 200
    poses_per_identity: int = 4
    seed: int = 0
    test_fraction: float = 0.1


class PinetSyntheticPeople(tfds.core.GeneratorBasedBuilder):
    """Procedural people with the DeepFashion pair structure (no download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        SyntheticConfig(name="256x176", description="Full size, 200 identities x 4 poses."),
        SyntheticConfig(name="64x44", description="Tiny: 64x44, 4 identities x 3 poses.",
                        height=64, width=44, identities=4, poses_per_identity=3),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        c = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description="Synthetic people in random poses with exact parsing and keypoints "
                        "(pinet_tf.datasets.synthetic); pairs are one identity in two poses.",
            features=pair_features(c.height, c.width),
        )

    def _split_generators(self, dl_manager):
        c = self.builder_config
        plan = synthetic.split_identities(c.identities, c.test_fraction)
        return {"train": self._generate_examples(plan.train_identities),
                "test": self._generate_examples(plan.test_identities)}

    def _generate_examples(self, identities):
        c = self.builder_config
        for ident in identities:
            poses = []
            for pose in range(c.poses_per_identity):
                image, parsing, kp, view = synthetic.sample(c.seed, ident, pose, c.height, c.width)
                poses.append(patn.Example(synthetic.image_name(ident, pose, view), image, parsing,
                                          kp.astype("float32")))
            for src in poses:
                for tgt in poses:
                    if src is not tgt:
                        yield f"{src.name}->{tgt.name}", pair_example(src, tgt)
