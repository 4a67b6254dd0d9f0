"""Small in-memory data sets that follow the dataset-element contract (docs/contracts.md), for
unit tests of the trainer that do not need the real pipeline."""

import numpy as np
import tensorflow as tf

from pinet_tf.models.encoding import keypoints_to_heatmaps, parsing_to_onehot


def contract_elements(cfg, n, seed=0):
    """n unbatched elements as a dict of numpy arrays (random but well-formed)."""
    rng = np.random.default_rng(seed)
    h, w = cfg.image_height, cfg.image_width
    out = {}
    for side in ("source", "target"):
        out[f"{side}_image"] = rng.uniform(-1, 1, (n, h, w, 3)).astype(np.float32)
        parsing = rng.integers(0, cfg.num_classes, (n, h, w)).astype(np.uint8)
        out[f"{side}_parsing"] = parsing
        out[f"{side}_parsing_onehot"] = parsing_to_onehot(parsing).numpy()
        kp = np.stack([rng.uniform(0, h - 1, (n, 18)), rng.uniform(0, w - 1, (n, 18))], -1)
        kp[:, 3] = -1.0  # one missing keypoint, as real data has
        out[f"{side}_keypoints"] = kp.astype(np.float32)
        out[f"{side}_heatmaps"] = keypoints_to_heatmaps(kp, h, w, cfg.heatmap_sigma).numpy()
        out[f"{side}_name"] = np.array([f"{side}{i}.png" for i in range(n)])
    return out


def contract_dataset(cfg, n=4, batch_size=2, seed=0, repeat=True):
    ds = tf.data.Dataset.from_tensor_slices(contract_elements(cfg, n, seed))
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=True)
