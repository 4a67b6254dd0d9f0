"""Generate the test pairs with a trained model, score them and two baselines, write a report.

One pass over the data for the mean-image baseline, one for generation and scoring: every metric
streams (sums, feature statistics, per-split sums), generated images go to PNG files as they are
made, and only the best and worst few pairs by L1 are kept in memory for the grid picture.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import time

import numpy as np

from pinet_tf.evaluation import baselines
from pinet_tf.evaluation.report import write_grid, write_markdown

MODEL = "model"
METHODS = (MODEL, baselines.COPY_SOURCE, baselines.MEAN_IMAGE)
#: metric -> True when higher is better.
HIGHER_IS_BETTER = {"l1": False, "ssim": True, "psnr": True, "lpips": False, "fid": False,
                    "is": True}
IS_SPLITS = 10


def resolve_saved_model(path: str) -> str:
    """A SavedModel directory, or the newest integer version folder inside an export base."""
    from pinet_tf.export.savedmodel import latest_version_dir

    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    newest = latest_version_dir(path)
    if newest:
        return newest
    raise FileNotFoundError(f"{path}: no saved_model.pb here nor in a version folder inside")


def load_model(run=None, saved_model=None):
    """(predictor with .transfer(...) on uint8/keypoints, ModelConfig, description dict)."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.inference.predictor import load_predictor

    if (run is None) == (saved_model is None):
        raise ValueError("give exactly one of --run RUN_DIR and --saved-model DIR")
    if run is not None:
        if not os.path.isdir(run):
            raise FileNotFoundError(f"run directory not found: {run}")
        predictor = load_predictor(run)
        return predictor, predictor.config, {"kind": "run", "path": os.path.abspath(run)}
    path = resolve_saved_model(saved_model)
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"{cfg_path} not found: the export's ModelConfig is needed to "
                                f"prepare the data at the model's size")
    cfg = ModelConfig.load(cfg_path)
    predictor = load_predictor(path)
    if tuple(predictor.image_size) != tuple(cfg.image_size):
        raise ValueError(f"{path}: signature size {predictor.image_size} differs from "
                         f"config.json's {cfg.image_size}")
    return predictor, cfg, {"kind": "saved_model", "path": os.path.abspath(path),
                            "signature": "pose_transfer"}


def _safe(name) -> str:
    name = name.decode() if isinstance(name, bytes) else str(name)
    name = os.path.splitext(os.path.basename(name))[0] or "x"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]


class _Scores:
    """Streaming accumulators of every metric for one method."""

    def __init__(self, lpips_model):
        self.lpips_model = lpips_model
        self.sums = {"l1": 0.0, "ssim": 0.0, "psnr": 0.0, "lpips": 0.0}
        self.count = 0
        self.fid = None  # FeatureStatistics, made at the first features (their size)
        self.is_acc = None  # SplitAccumulator, made at the first probabilities

    def update(self, pred, target, inception_out=None) -> np.ndarray:
        from pinet_tf.metrics import l1, psnr, ssim

        per = {"l1": l1(pred, target, 255).numpy(), "ssim": ssim(pred, target, 255).numpy(),
               "psnr": psnr(pred, target, 255).numpy()}
        if self.lpips_model is not None:
            per["lpips"] = self.lpips_model(pred, target).numpy()
        for k, v in per.items():
            self.sums[k] += float(np.sum(v, dtype=np.float64))
        self.count += len(pred)
        if inception_out is not None:
            self.fid = _update_features(self.fid, inception_out["pool"])
            if "probs" in inception_out:
                from pinet_tf.metrics.inception_score import SplitAccumulator
                probs = np.asarray(inception_out["probs"])
                self.is_acc = self.is_acc or SplitAccumulator(probs.shape[-1], IS_SPLITS)
                self.is_acc.update(probs)
        return per["l1"]

    def result(self, real, skipped) -> dict:
        """`real`: (mean, covariance, its square root) of the real images' features."""
        from pinet_tf.metrics.fid import frechet_distance
        out = {k: self.sums[k] / max(self.count, 1) for k in ("l1", "ssim", "psnr")}
        if self.lpips_model is not None:
            out["lpips"] = self.sums["lpips"] / max(self.count, 1)
        if self.fid is not None and "fid" not in skipped:
            mu, cov, root = real
            out["fid"] = frechet_distance(mu, cov, *self.fid.mean_cov(), sqrt_sigma1=root)
        if self.is_acc is not None and "is" not in skipped:
            out["is"], out["is_std"] = self.is_acc.result()
        return out


def _update_features(stats, features):
    from pinet_tf.metrics.fid import FeatureStatistics
    f = np.asarray(features)
    stats = stats or FeatureStatistics(f.shape[-1])
    stats.update(f)
    return stats


def _setup_networks(lpips_net, lpips_heads, lpips_backbone, inception_weights, n_pairs,
                    inception=None):
    """Build the networks whose weights exist; the others go to `skipped` with the reason."""
    from pinet_tf.utils import weights as wlib
    from pinet_tf.metrics.inception import NOTOP_FILE, TOP_FILE, InceptionNetwork
    from pinet_tf.metrics.lpips import LPIPS

    skipped, files = {}, []
    try:
        lpips_model = LPIPS(lpips_net, heads=lpips_heads, backbone=lpips_backbone)
        files += lpips_model.weight_files
    except wlib.WeightsNotFoundError as e:
        lpips_model, skipped["lpips"] = None, str(e)
    if n_pairs < 2:
        skipped["fid"] = f"FID needs at least 2 pairs, {n_pairs} evaluated"
    if n_pairs < IS_SPLITS:
        skipped["is"] = f"IS needs at least {IS_SPLITS} pairs ({IS_SPLITS} splits), {n_pairs} " \
                        f"evaluated"
    if inception is not None:  # given by the caller (tests, notebooks)
        if inception.weights_path:
            files.append(("Inception network", inception.weights_path))
        if not inception.include_top:
            skipped.setdefault("is", "the given Inception network has no classifier")
    elif not ("fid" in skipped and "is" in skipped):
        try:
            inception = InceptionNetwork(inception_weights)
            role = "Inception-v3 (FID pool3" + (", IS classifier)" if inception.include_top
                                                else ")")
            files.append((role, inception.weights_path))
            if not inception.include_top:
                skipped.setdefault("is", f"IS needs the Inception-v3 classifier weights "
                                         f"{TOP_FILE!r}; only {NOTOP_FILE!r} was found")
        except wlib.WeightsNotFoundError as e:
            skipped.setdefault("fid", str(e))
            skipped.setdefault("is", str(e))
    if "fid" in skipped and "is" in skipped:
        inception = None  # nothing needs its features
    return lpips_model, inception, skipped, files


def evaluate(data: str, out: str, run=None, saved_model=None, limit=None, batch_size: int = 8,
             split: str = "test", images_dir=None, lpips_net: str = "alex", lpips_heads=None,
             lpips_backbone=None, inception_weights=None, grid_k: int = 4,
             mean_pairs: int = 2000, progress: bool = True, inception=None) -> dict:
    """Evaluate a RUN_DIR or SavedModel on `data`'s `split`; write `out` (JSON), `out`.md, the
    generated PNGs and a best/worst grid. Returns the report dict.

    `mean_pairs`: at most this many training pairs make the mean-image baseline. `inception`:
    an object like `pinet_tf.metrics.inception.InceptionNetwork` (callable images -> {"pool",
    "probs"}, with `include_top` and `weights_path`) instead of building one from a file.
    """
    from tqdm import tqdm

    from pinet_tf.datasets import make_dataset
    from pinet_tf.datasets.tfrecords import read_manifest
    from pinet_tf.utils.drawing import save_png_atomic
    from pinet_tf.models.encoding import float_to_uint8
    from pinet_tf.metrics.fid import sqrt_psd
    from pinet_tf.metrics.inception import RESIZE_METHOD
    from pinet_tf.utils.weights import sha256_file

    if not out.endswith(".json"):
        raise ValueError(f"--out must name a .json file, got {out!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    manifest = read_manifest(data, verify="size")
    if split not in manifest["splits"]:
        raise ValueError(f"{data}: no {split!r} split (has {sorted(manifest['splits'])})")
    predictor, cfg, model_info = load_model(run, saved_model)
    n_split = int(manifest["splits"][split]["pairs"])
    n_pairs = n_split if limit is None else min(int(limit), n_split)
    record_size = (int(manifest["image_height"]), int(manifest["image_width"]))
    out_dir = os.path.dirname(os.path.abspath(out))
    stem = os.path.splitext(os.path.basename(out))[0]
    images_dir = images_dir or os.path.join(out_dir, f"{stem}_images")
    os.makedirs(images_dir, exist_ok=True)

    lpips_model, inception, skipped, weight_files = _setup_networks(
        lpips_net, lpips_heads, lpips_backbone, inception_weights, n_pairs, inception)

    def batches(which=split, count=n_pairs):
        ds = make_dataset(data, which, cfg, batch_size, training=False, deterministic=True,
                          drop_remainder=False)
        seen = 0
        for b in ds:
            if seen >= count:
                return
            take = min(count - seen, int(b["target_image"].shape[0]))
            seen += take
            yield {k: v[:take] for k, v in b.items()}

    # Pass 1: the mean-image baseline: the mean target of the training split (no peeking at the
    # evaluated targets) when the records have one, else of the evaluated pairs.
    mean = baselines.MeanImage()
    mean_split = baselines.MEAN_SPLIT if baselines.MEAN_SPLIT in manifest["splits"] \
        and baselines.MEAN_SPLIT != split else split
    mean_count = min(int(manifest["splits"][mean_split]["pairs"]), mean_pairs) \
        if mean_split != split else n_pairs
    for b in batches(mean_split, mean_count):
        mean.update(float_to_uint8(b["target_image"]).numpy())
    if mean.count == 0:
        raise ValueError(f"{data}: split {mean_split!r} yielded no pairs")
    mean_image = mean.image()

    scores = {m: _Scores(lpips_model) for m in METHODS}
    real_stats = None
    mean_inception = inception(mean_image[None]) if inception is not None else None
    best, worst, index, gen_seconds = [], [], 0, 0.0
    bar = tqdm(total=n_pairs, desc="evaluate", unit="pair", disable=not progress)
    for b in batches():
        src = float_to_uint8(b["source_image"]).numpy()
        tgt = float_to_uint8(b["target_image"]).numpy()
        t0 = time.perf_counter()
        gen, _ = predictor.transfer(src, b["source_parsing"].numpy(),
                                    b["source_keypoints"].numpy(), b["target_keypoints"].numpy())
        gen_seconds += time.perf_counter() - t0
        gen = np.asarray(gen, np.uint8)
        means = np.repeat(mean_image[None], len(tgt), axis=0)
        feats = {}
        if inception is not None:
            feats = {MODEL: inception(gen), baselines.COPY_SOURCE: inception(src),
                     baselines.MEAN_IMAGE: {k: np.repeat(np.asarray(v), len(tgt), axis=0)
                                            for k, v in mean_inception.items()}}
            real_stats = _update_features(real_stats, inception(tgt)["pool"])
        l1_model = scores[MODEL].update(gen, tgt, feats.get(MODEL))
        scores[baselines.COPY_SOURCE].update(src, tgt, feats.get(baselines.COPY_SOURCE))
        scores[baselines.MEAN_IMAGE].update(means, tgt, feats.get(baselines.MEAN_IMAGE))
        names = zip(b["source_name"].numpy(), b["target_name"].numpy())
        for i, (sn, tn) in enumerate(names):
            fname = f"{index:05d}_{_safe(sn)}__{_safe(tn)}.png"
            save_png_atomic(os.path.join(images_dir, fname), gen[i])
            l1_i = float(l1_model[i])
            # keep the grid_k lowest (best) and highest (worst) L1 pairs only; the unique index
            # breaks ties so that arrays are never compared
            for heap, key in ((best, -l1_i), (worst, l1_i)):
                heapq.heappush(heap, (key, index, fname, src[i], tgt[i], gen[i]))
                if len(heap) > grid_k:
                    heapq.heappop(heap)
            index += 1
        bar.update(len(tgt))
    bar.close()

    real = None
    if real_stats is not None and "fid" not in skipped:
        mu, cov = real_stats.mean_cov()
        real = (mu, cov, sqrt_psd(cov))  # one decomposition shared by the three methods
    methods = {m: scores[m].result(real, skipped) for m in METHODS}
    best_rows = sorted(((-e[0],) + e[1:] for e in best), key=lambda e: (e[0], e[1]))
    worst_rows = sorted(worst, key=lambda e: (-e[0], e[1]))
    grid_path = os.path.join(out_dir, f"{stem}_best_worst.png")
    write_grid(grid_path, best_rows, worst_rows)
    report = {
        "model": {**model_info, "config": cfg.to_dict(),
                  "seconds_per_pair": gen_seconds / max(index, 1)},
        "data": {"path": os.path.abspath(data), "split": split, "pairs_in_split": n_split},
        "protocol": {
            "pairs": index,
            "image_size": list(cfg.image_size),
            "record_size": list(record_size),
            "resize_method": "none (records are at the model size)"
            if record_size == tuple(cfg.image_size) else
            f"records {record_size[0]}x{record_size[1]} resized to the model size by the data "
            "pipeline: bilinear for images (rounded to uint8), nearest for parsing",
            "file_format": "PNG (lossless, 8-bit RGB) at the model size; every metric is "
                           "computed on these uint8 images",
            "generated_images": os.path.abspath(images_dir),
            "l1": "mean |generated - target| / 255 over pixels and channels",
            "psnr": "10 log10(255^2 / MSE) per image (capped at 100 dB), averaged",
            "ssim": "scikit-image structural_similarity recipe: Gaussian window sigma 1.5, "
                    "population covariance, data_range 255, channels averaged",
            "lpips": f"LPIPS v0.1, {lpips_net} backbone, inputs in [-1, 1], averaged over pairs",
            "fid_real_set": f"the {index} target images of the evaluated pairs",
            "inception_resize": RESIZE_METHOD,
            "inception_weights": "Keras InceptionV3 (TF2 ImageNet weights), not the TF1 graph "
                                 "of the published FID/IS code: numbers not comparable to "
                                 "papers",
            "is_splits": IS_SPLITS,
            "baselines": {
                baselines.COPY_SOURCE: baselines.DESCRIPTIONS[baselines.COPY_SOURCE],
                baselines.MEAN_IMAGE: baselines.DESCRIPTIONS[baselines.MEAN_IMAGE].format(
                    n=mean.count, split=mean_split)},
        },
        "weights": [{"role": role, "path": os.path.abspath(p), "sha256": sha256_file(p)}
                    for role, p in weight_files],
        "metrics": methods,
        "higher_is_better": {k: v for k, v in HIGHER_IS_BETTER.items()
                             if k in methods[MODEL]},
        "skipped": skipped,
        "beats_baselines": {
            k: all((methods[MODEL][k] > methods[m][k]) if up else
                   (methods[MODEL][k] < methods[m][k]) for m in METHODS[1:])
            for k, up in HIGHER_IS_BETTER.items() if k in methods[MODEL]},
        "best_pairs_by_l1": [{"file": r[2], "l1": r[0]} for r in best_rows],
        "worst_pairs_by_l1": [{"file": r[2], "l1": r[0]} for r in worst_rows],
        "files": {"markdown": os.path.abspath(out[:-5] + ".md"),
                  "grid": os.path.abspath(grid_path)},
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, out)
    write_markdown(out[:-5] + ".md", report)
    return report
