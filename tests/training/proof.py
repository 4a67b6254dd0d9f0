"""Held-out measurements for the proof-of-learning test: the model vs simple baselines.

* copy-the-source: predict the source image as the target image;
* mean training image: predict the pixel-wise mean of the training target images;
* majority class: predict the most frequent training parsing class everywhere.
"""

import numpy as np

from pinet_tf import datasets


def _batches(records, split, cfg):
    return datasets.make_dataset(records, split, cfg, 8, training=False, deterministic=True)


def learning_report(generator, records, cfg) -> dict:
    total = 0
    counts = np.zeros(cfg.num_classes)
    mean_image = 0.0
    for b in _batches(records, "train", cfg):
        mean_image = mean_image + b["target_image"].numpy().sum(0)
        total += b["target_image"].shape[0]
        counts += np.bincount(b["target_parsing"].numpy().ravel(), minlength=cfg.num_classes)
    mean_image = mean_image / total
    majority = int(np.argmax(counts))
    sums = dict.fromkeys(("model", "copy_source", "mean_image", "parsing", "majority"), 0.0)
    n = pixels = 0
    for b in _batches(records, "test", cfg):
        out = generator({k: b[k] for k in ("source_image", "source_parsing_onehot",
                                           "source_heatmaps", "target_heatmaps")},
                        training=False)
        target = b["target_image"].numpy()
        labels = b["target_parsing"].numpy()
        sums["model"] += np.abs(np.asarray(out["image"]) - target).mean((1, 2, 3)).sum()
        sums["copy_source"] += np.abs(b["source_image"].numpy() - target).mean((1, 2, 3)).sum()
        sums["mean_image"] += np.abs(mean_image[None] - target).mean((1, 2, 3)).sum()
        predicted = np.argmax(np.asarray(out["parsing_logits"]), axis=-1)
        sums["parsing"] += (predicted == labels).sum()
        sums["majority"] += (labels == majority).sum()
        n += target.shape[0]
        pixels += labels.size
    return {"l1": sums["model"] / n, "copy_source_l1": sums["copy_source"] / n,
            "mean_image_l1": sums["mean_image"] / n, "parsing_accuracy": sums["parsing"] / pixels,
            "majority_accuracy": sums["majority"] / pixels, "test_pairs": n}


def passes(report) -> dict:
    """The three thresholds of the issue, each True/False."""
    return {"beats_copy_by_30pct": report["l1"] <= 0.7 * report["copy_source_l1"],
            "beats_mean_image": report["l1"] < report["mean_image_l1"],
            "beats_majority_class": report["parsing_accuracy"] > report["majority_accuracy"]}
