"""Batch pose transfer over a pairs CSV and a data folder in the authors' layout.

Reads examples with the data package's `PatnReader` (the same checks and crop rule as
training), checks every pair's files before the model runs, then writes one PNG per pair
(`<from stem>___<to stem>.png`, the PATN naming) and, with `grid`, a picture beside it.
"""

from __future__ import annotations

import os

from pinet_tf.utils import drawing
from pinet_tf.utils.atomic import atomic_files
from pinet_tf.utils.paths import confined
from pinet_tf.inference.frame import Fit
from pinet_tf.inference.pipeline import Person, transfer_grid, transfer_many


def output_name(source_name: str, target_name: str) -> str:
    return f"{os.path.splitext(source_name)[0]}___{os.path.splitext(target_name)[0]}.png"


def _preflight(reader, pairs, pairs_path):
    """Every name has an annotation row, an image and a parsing map: fail before writing."""
    from pinet_tf.datasets import patn

    for a, b, line in pairs:
        for name in (a, b):
            where = f"{pairs_path}:{line}"
            if name not in reader.annotations:
                raise ValueError(f"{where}: {name} has no row in "
                                 f"{os.path.join(reader.root, patn.annotation_csv(reader.split))}")
            image = patn.find_image(reader.root, reader.split, name)
            if not os.path.isfile(image):
                raise FileNotFoundError(f"{where}: missing image {image}")
            parsing = os.path.join(reader.root, patn.parsing_dir(reader.split),
                                   os.path.splitext(name)[0] + ".png")
            if not os.path.isfile(parsing):
                raise FileNotFoundError(f"{where}: missing parsing map {parsing}")


def prepare_pairs(data_dir: str, pairs_csv: str | None = None, split: str = "test",
                  limit: int | None = None, batch_size: int = 8):
    """Read the pairs and check all their files (before any model is loaded).
    Returns (reader, pairs, pairs_path)."""
    from pinet_tf.datasets import patn

    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")

    reader = patn.PatnReader(data_dir, split)
    pairs_path = pairs_csv or reader.pairs_file
    pairs = patn.read_pairs(pairs_path) if pairs_csv else reader.pairs
    if limit is not None:
        pairs = pairs[:limit]
    if not pairs:
        raise ValueError(f"{pairs_path}: no pairs to run")
    _preflight(reader, pairs, pairs_path)
    return reader, pairs, pairs_path


def run_pairs(predictor, prepared, out_dir: str, fit_mode: str = "pad", grid: bool = False,
              batch_size: int = 8, progress: bool = True) -> list:
    """Pose transfer for every (from, to) row of `prepare_pairs`'s result. Returns the written
    result paths. Results are staged beside `out_dir` and moved in only when every pair has
    run, so a failure leaves `out_dir` as it was."""
    reader, pairs, pairs_path = prepared
    h, w = predictor.image_size
    with atomic_files(out_dir) as staging:  # a failure on pair N leaves nothing in out_dir
        names = _run(predictor, reader, pairs, pairs_path, staging, fit_mode, grid, batch_size,
                     progress, h, w)
    return [os.path.join(out_dir, name) for name in names]


def _run(predictor, reader, pairs, pairs_path, out_dir, fit_mode, grid, batch_size, progress,
         h, w) -> list:
    from tqdm import tqdm

    written, cache = [], {}

    def example(name, line):
        if name not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[name] = reader.example(name, f"{pairs_path}:{line}")
        return cache[name]

    with tqdm(total=len(pairs), desc="transfer", unit="pair", disable=not progress) as bar:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            jobs, truths = [], []
            for a, b, line in chunk:
                src, tgt = example(a, line), example(b, line)
                target_fit = Fit.make(*tgt.image.shape[:2], h, w, fit_mode)
                jobs.append((Person(src.image, src.keypoints, src.parsing, a),
                             target_fit.keypoints(tgt.keypoints),
                             Fit.make(*src.image.shape[:2], h, w, fit_mode)))
                truths.append(target_fit.image(tgt.image))
            for (a, b, _), result, truth in zip(chunk, transfer_many(predictor, jobs), truths):
                name = output_name(a, b)
                drawing.save_png_atomic(confined(out_dir, name), result.image)
                if grid:
                    drawing.save_png_atomic(os.path.join(out_dir, name[:-4] + "_grid.png"),
                                            transfer_grid(result, ground_truth=truth))
                written.append(name)
            bar.update(len(chunk))
    return written
