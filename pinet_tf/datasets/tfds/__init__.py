"""TFDS builders: DeepFashion pose-transfer pairs (PATN layout, manual download) and synthetic people.

    import pinet_tf.datasets.tfds  # registers the builders
    ds = tfds.load("pinet_deepfashion_pairs", split="train",
                   download_and_prepare_kwargs={"download_config":
                       tfds.download.DownloadConfig(manual_dir="/path/to/fashion_data")})
    ds = tfds.load("pinet_synthetic_people/64x44")

Each example is one (source, target) pair with the same fields as the pair TFRecords
(`pinet_tf.datasets.tfrecords`): uint8 images, [H,W,1] parsing labels, [18,2] keypoints, names.
Importing this package imports tensorflow_datasets; the rest of pinet_tf does not need it.
"""

from pinet_tf.datasets.tfds.deepfashion import PinetDeepfashionPairs
from pinet_tf.datasets.tfds.synthetic import PinetSyntheticPeople

__all__ = ["PinetDeepfashionPairs", "PinetSyntheticPeople"]
