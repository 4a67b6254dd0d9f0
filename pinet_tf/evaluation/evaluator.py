"""Generate the test pairs with a trained model, score them and two baselines, write a report.

`Evaluator.run()` does one job per step, in the shape of big_vision's evaluators: `baselines`
(one pass over the data for the mean image), then for each batch `generate` and `score`, then
`report`. Every metric is a streaming `pinet_tf.metrics` metric (sums, feature statistics,
per-split sums), generated images go to PNG files as they are made, and only the best and worst
few pairs by L1 are kept in memory for the grid picture.
"""

from __future__ import annotations

import heapq
import os
import re
import time

import numpy as np

from pinet_tf.evaluation import baselines, networks, protocols
from pinet_tf.utils.atomic import undo_on_error
from pinet_tf.evaluation import report as report_lib

MODEL = "model"
#: Report order; PAINT only for a model that predicts a parsing (two-stage).
METHODS = (MODEL, baselines.COPY_SOURCE, baselines.MEAN_IMAGE, baselines.PAINT,
           baselines.PAINT_TRUE, baselines.FLAT_GREY)


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


class Extremes:
    """The k lowest (best) and highest (worst) L1 pairs seen, for the grid picture."""

    def __init__(self, k: int):
        self.k, self.best, self.worst = k, [], []

    def push(self, l1, index, fname, src, tgt, gen) -> None:
        # the unique index breaks ties so that arrays are never compared
        for heap, key in ((self.best, -l1), (self.worst, l1)):
            heapq.heappush(heap, (key, index, fname, src, tgt, gen))
            if len(heap) > self.k:
                heapq.heappop(heap)

    def rows(self):
        """(best rows by increasing L1, worst rows by decreasing L1): (l1, index, file, ...)."""
        best = sorted(((-e[0],) + e[1:] for e in self.best), key=lambda e: (e[0], e[1]))
        return best, sorted(self.worst, key=lambda e: (-e[0], e[1]))


class Evaluator:
    """One evaluation of a predictor on `split` of the records in `data`; `run()` -> report.

    `model_info` describes the model for the report; `out` is the report's .json path.
    """

    def __init__(self, data, manifest, split, predictor, cfg, model_info, nets, n_pairs,
                 batch_size, images_dir, out, lpips_net="alex", grid_k=4, mean_pairs=2000,
                 progress=True, protocol=None):
        self.data, self.manifest, self.split = data, manifest, split
        self.model_info, self.out, self.lpips_net = model_info, out, lpips_net
        self.predictor, self.cfg, self.nets = predictor, cfg, nets
        self.n_pairs, self.batch_size, self.images_dir = n_pairs, batch_size, images_dir
        self.grid_k, self.mean_pairs, self.progress = grid_k, mean_pairs, progress
        self.gen_seconds, self.count = 0.0, 0
        self.extremes = Extremes(grid_k)
        self.methods = [m for m in METHODS
                        if m != baselines.PAINT or getattr(predictor, "has_parsing", True)]
        self.appearance = {m: baselines.AppearanceTally() for m in self.methods}
        # --protocol: the targets go beside the generated PNGs, under the same names, and
        # `pinet-tf score` scores the two folders (a dict of score() keyword arguments).
        self.protocol = protocol
        self.real_dir = images_dir.rstrip("/\\") + "_real" if protocol else None

    def batches(self, split=None, count=None):
        """The first `count` pairs of `split` in record order, in batches."""
        from pinet_tf.datasets import make_dataset

        split, count = split or self.split, self.n_pairs if count is None else count
        ds = make_dataset(self.data, split, self.cfg, self.batch_size, training=False,
                          deterministic=True, drop_remainder=False)
        seen = 0
        for b in ds:
            if seen >= count:
                return
            take = min(count - seen, int(b["target_image"].shape[0]))
            seen += take
            yield {k: v[:take] for k, v in b.items()}

    # -- the jobs ---------------------------------------------------------------------------
    def baselines(self):
        """The mean-image baseline: the mean target of the training split (no peeking at the
        evaluated targets) when the records have one, else of the evaluated pairs."""
        from pinet_tf.models.encoding import float_to_uint8

        splits = self.manifest["splits"]
        self.mean_split = baselines.MEAN_SPLIT if baselines.MEAN_SPLIT in splits \
            and baselines.MEAN_SPLIT != self.split else self.split
        count = min(int(splits[self.mean_split]["pairs"]), self.mean_pairs) \
            if self.mean_split != self.split else self.n_pairs
        self.mean = baselines.MeanImage()
        for b in self.batches(self.mean_split, count):
            self.mean.update(float_to_uint8(b["target_image"]).numpy())
        if self.mean.count == 0:
            raise ValueError(f"{self.data}: split {self.mean_split!r} yielded no pairs")
        return self.mean.image()

    def generate(self, batch):
        """uint8 sources, targets, generated images and predicted parsings (None for a
        one-stage model) of one batch (generation timed)."""
        from pinet_tf.models.encoding import float_to_uint8

        src = float_to_uint8(batch["source_image"]).numpy()
        tgt = float_to_uint8(batch["target_image"]).numpy()
        t0 = time.perf_counter()
        gen, parsing = self.predictor.transfer(src, batch["source_parsing"].numpy(),
                                               batch["source_keypoints"].numpy(),
                                               batch["target_keypoints"].numpy())
        self.gen_seconds += time.perf_counter() - t0
        return src, tgt, np.asarray(gen, np.uint8), parsing

    def predictions(self, batch, src, gen, parsing, mean_image) -> dict:
        """method -> uint8 predictions of one batch: the model's and every baseline's."""
        src_parsing = batch["source_parsing"].numpy()
        out = {MODEL: gen, baselines.COPY_SOURCE: src,
               baselines.MEAN_IMAGE: np.repeat(mean_image[None], len(src), axis=0),
               baselines.PAINT_TRUE: baselines.paint_by_parsing(
                   src, src_parsing, batch["target_parsing"].numpy()),
               baselines.FLAT_GREY: np.full_like(src, 128)}
        if baselines.PAINT in self.methods:
            out[baselines.PAINT] = baselines.paint_by_parsing(src, src_parsing,
                                                              np.asarray(parsing))
        return out

    def score(self, metrics, predictions: dict, tgt, target_parsing, mean_features=None):
        """Update every method's metrics with its predictions; the model's per-image L1."""
        inception = self.nets.inception
        real = inception(tgt) if inception is not None else None
        l1 = {}
        for method, pred in predictions.items():
            m = metrics[method]
            l1[method] = np.asarray(m["l1"].update_state(tgt, pred))
            self.appearance[method].update(pred, tgt, target_parsing)
            for name in ("ssim", "psnr", "lpips"):
                if name in m:
                    m[name].update_state(tgt, pred)
            if real is None:
                continue
            feats = inception(pred) if method != baselines.MEAN_IMAGE else \
                {k: np.repeat(np.asarray(v), len(tgt), axis=0) for k, v in mean_features.items()}
            if "fid" in m:
                m["fid"].update_features(real["pool"], feats["pool"])
            if "is" in m:
                m["is"].update_probs(feats["probs"])
        return l1[MODEL]

    def save(self, batch, src, tgt, gen, l1) -> None:
        from pinet_tf.utils.drawing import save_png_atomic

        for i, (sn, tn) in enumerate(zip(batch["source_name"].numpy(),
                                         batch["target_name"].numpy())):
            fname = f"{self.count:05d}_{_safe(sn)}__{_safe(tn)}.png"
            save_png_atomic(os.path.join(self.images_dir, fname), gen[i])
            if self.real_dir:
                save_png_atomic(os.path.join(self.real_dir, fname), tgt[i])
            self.extremes.push(float(l1[i]), self.count, fname, src[i], tgt[i], gen[i])
            self.count += 1

    def report(self, methods: dict) -> dict:
        """Write the report files of the finished run; return the report dict."""
        self.protocol_report = None
        if self.protocol:
            from pinet_tf.evaluation.scoring import score

            name = self.protocol["protocol"]
            self.protocol_report = score(
                generated=self.images_dir, real=self.real_dir,
                out=os.path.splitext(os.path.abspath(self.out))[0] + f"_{name}.json",
                progress=False, **self.protocol)
        return report_lib.write_report(self.out, self, methods, self.model_info, self.lpips_net)

    def run(self) -> dict:
        """baselines, then generate + score (+ save) per batch, then report."""
        from tqdm import tqdm

        mean_image = self.baselines()
        mean_features, dim, classes = None, None, None
        if self.nets.inception is not None:
            mean_features = {k: np.asarray(v) for k, v in
                             self.nets.inception(mean_image[None]).items()}
            dim = mean_features["pool"].shape[-1]
            classes = mean_features["probs"].shape[-1] if "probs" in mean_features else None
        metrics = {m: networks.method_metrics(self.nets, dim, classes) for m in self.methods}
        bar = tqdm(total=self.n_pairs, desc="evaluate", unit="pair", disable=not self.progress)
        for b in self.batches():
            src, tgt, gen, parsing = self.generate(b)
            l1 = self.score(metrics, self.predictions(b, src, gen, parsing, mean_image), tgt,
                            b["target_parsing"].numpy(), mean_features)
            self.save(b, src, tgt, gen, l1)
            bar.update(len(tgt))
        bar.close()
        return self.report({m: {**networks.results(metrics[m]), **self.appearance[m].results()}
                            for m in self.methods})


def evaluate(data: str, out: str, run=None, saved_model=None, limit=None, batch_size: int = 8,
             split: str = "test", images_dir=None, lpips_net: str = "alex", lpips_heads=None,
             lpips_backbone=None, inception_weights=None, grid_k: int = 4,
             mean_pairs: int = 2000, progress: bool = True, inception=None,
             allow_download=None, protocol=None, real_set=None) -> dict:
    """Evaluate a RUN_DIR or SavedModel on `data`'s `split`; write `out` (JSON), `out`.md, the
    generated PNGs and a best/worst grid (none with grid_k=0). Returns the report dict.

    `mean_pairs`: at most this many training pairs make the mean-image baseline. `inception`:
    an object like `pinet_tf.metrics.inception.InceptionNetwork` (callable images -> {"pool",
    "probs"}, with `include_top` and `weights_path`) instead of building one from a file.
    `allow_download=False` forbids downloading the metrics' weights (their metrics are skipped).
    `protocol`: also score the generated images under that `pinet-tf score` protocol (the
    targets are written to `<images_dir>_real`; `real_set`: its FID real-set folder); its report
    goes to `<out stem>_<protocol>.json` and into this report's `protocol_scores`.
    """
    from pinet_tf.datasets.tfrecords import read_manifest

    if not out.endswith(".json"):
        raise ValueError(f"--out must name a .json file, got {out!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if grid_k < 0:
        raise ValueError(f"--grid must be >= 0, got {grid_k}")
    networks.check_explicit_files(lpips_heads, lpips_backbone, inception_weights)
    scoring = None
    if protocol:
        protocols.get(protocol)
        if real_set and not os.path.isdir(real_set):
            raise FileNotFoundError(f"--real-set {real_set} is not a directory")
        scoring = {"protocol": protocol, "real_set": real_set, "allow_download": allow_download,
                   "lpips_heads": lpips_heads, "lpips_backbone": lpips_backbone,
                   "inception_weights": inception_weights}
    manifest = read_manifest(data, verify="size")
    if split not in manifest["splits"]:
        raise ValueError(f"{data}: no {split!r} split (has {sorted(manifest['splits'])})")
    predictor, cfg, model_info = load_model(run, saved_model)
    if protocol:
        p = protocols.get(protocol)
        if p.pair_size is None and min(cfg.image_size) < p.min_side:
            raise ValueError(f"protocol {protocol!r}: the model's {cfg.image_size[0]}x"
                             f"{cfg.image_size[1]} images are smaller than the peer's "
                             f"{p.min_side}-pixel SSIM window")
    n_split = int(manifest["splits"][split]["pairs"])
    n_pairs = n_split if limit is None else min(int(limit), n_split)
    stem = os.path.splitext(os.path.basename(out))[0]
    images_dir = images_dir or os.path.join(os.path.dirname(os.path.abspath(out)),
                                            f"{stem}_images")
    nets = networks.setup_networks(n_pairs, lpips_net, lpips_heads, lpips_backbone,
                                   inception_weights, inception, allow_download)
    from pinet_tf.datasets.pipeline import naming_corrupt_shards

    # pictures are written as they are made: a failure (a damaged record that only TensorFlow
    # notices, named here) leaves none of them and no report
    with undo_on_error(images_dir), naming_corrupt_shards(data):
        return Evaluator(data, manifest, split, predictor, cfg, model_info, nets, n_pairs,
                         batch_size, images_dir, out, lpips_net, grid_k, mean_pairs,
                         progress, scoring).run()


def run_records(run: str) -> str:
    """The records directory a training run used: RUN_DIR/data.json, else (a run that predates
    it) the one synthetic set under RUN_DIR/data."""
    import glob

    from pinet_tf.training.rundata import recorded_data

    recorded = recorded_data(run)
    if recorded:
        return recorded
    found = sorted(glob.glob(os.path.join(run, "data", "*", "records", "manifest.json")))
    if len(found) == 1:
        return os.path.dirname(found[0])
    raise ValueError(f"--run {run}: no record of the data it trained on "
                     f"({os.path.join(run, 'data.json')} is missing); pass --data RECORDS "
                     f"(a records directory from `pinet-tf make-tfrecords`)")
