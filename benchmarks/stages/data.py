"""Stage `data`: synthetic people images/s (one core) and tf.data examples/s.

    python -m benchmarks.stages.data                  # 256x176, prints JSON
    python -m benchmarks.stages.data --figure docs/images/synthetic_samples.png

`measure_pipeline(cfg, batch_size, quick)` returns ``examples_per_s`` of `make_dataset` (training
mode, flip on, shuffle, batch 4) on a synthetic record set at cfg's size, plus the generator's
``synthetic_images_per_s``. The run compares ``examples_per_s`` with the training step's
examples/s measured in the same run. No FLOP: the pipeline does no model arithmetic.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time

from benchmarks.common import model_config


def measure_synthetic(size=(256, 176), images: int = 200, seed: int = 0) -> dict:
    """Images/s of the synthetic generator in one thread: drawing + lossless PNG of image and
    parsing (what `pinet-tf synth` does per image, minus the file write)."""
    from PIL import Image

    from pinet_tf.datasets import synthetic

    synthetic.sample(seed, 0, 0, *size)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    draw_s = 0.0
    for i in range(images):
        d0 = time.perf_counter()
        image, parsing, _, _ = synthetic.sample(seed, i // 4, i % 4, *size)
        draw_s += time.perf_counter() - d0
        for a in (image, parsing):
            Image.fromarray(a).save(io.BytesIO(), format="PNG", compress_level=1)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    # images per CPU-second: the one-core rate even when other processes share the machine
    return {"size": list(size), "images": images, "images_per_s": images / total,
            "images_per_cpu_s": images / cpu, "draw_only_images_per_s": images / draw_s}


def measure_pipeline(cfg, batch_size: int = 4, quick: bool = False, records: str | None = None,
                     identities: int | None = None) -> dict:
    """Examples/s of `make_dataset` over a synthetic record set at cfg's image size."""
    import tensorflow as tf

    from pinet_tf.datasets import make_dataset, synthetic, tfrecords

    # The generator first: the pipeline's prefetch threads keep running while its iterator lives.
    synth = measure_synthetic(cfg.image_size, 50 if quick else 200)
    tmp = None
    if records is None:
        tmp = tempfile.mkdtemp(prefix="pinet_data_bench_")
        identities = identities or (12 if quick else 40)
        data = os.path.join(tmp, "data")
        synthetic.write_dataset(data, identities, 4, cfg.image_size, seed=0)
        records = os.path.join(tmp, "records")
        tfrecords.convert(data, records, shards=4)
    try:
        ds = make_dataset(records, "train", cfg, batch_size, training=True, flip=True,
                          repeat=True)
        it = iter(ds)
        for _ in range(5):  # warm-up: tracing, thread pools, prefetch buffer
            next(it)
        batches = 20 if quick else 100
        t0 = time.perf_counter()
        for _ in range(batches):
            batch = next(it)
        _ = batch["target_heatmaps"].numpy()
        elapsed = time.perf_counter() - t0
        del it, ds
        return {"batch": batch_size, "batches": batches, "size": list(cfg.image_size),
                "examples_per_s": batches * batch_size / elapsed,
                "synthetic_images_per_s": synth["images_per_s"],
                "synthetic_images_per_cpu_s": synth["images_per_cpu_s"],
                "synthetic_draw_only_images_per_s": synth["draw_only_images_per_s"],
                "cpu_threads_tf": tf.config.threading.get_intra_op_parallelism_threads(),
                "cpus": os.cpu_count()}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(p):
    return measure_pipeline(model_config(p["config"], p["size"]), batch_size=4, quick=p["quick"])


def samples_figure(path: str, size=(256, 176), count: int = 4, seed: int = 0):
    """Rows: one identity in two poses (image, parsing, skeleton on image) per sample."""
    from PIL import Image

    from pinet_tf.datasets import synthetic
    from pinet_tf.utils import drawing
    from pinet_tf.utils.atomic import atomic_path

    rows = []
    for ident in range(count):
        row = []
        for pose in range(2):
            image, parsing, kp, _ = synthetic.sample(seed, ident, pose, *size)
            row += [image, drawing.colorize_parsing(parsing),
                    drawing.draw_skeleton(kp, *size, background=image)]
        rows.append(row)
    titles = ["pose A", "parsing A", "keypoints A", "pose B", "parsing B", "keypoints B"]
    grid = drawing.image_grid(rows, titles=titles)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(grid).save(tmp, format="PNG", optimize=True)
    return grid


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="256x176")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--figure", default=None, help="also write the samples picture here")
    args = parser.parse_args(argv)
    from pinet_tf.config import ModelConfig
    from pinet_tf.datasets.synthetic import parse_size

    try:
        h, w = parse_size(args.size)
    except ValueError as e:
        parser.error(str(e))
    cfg = ModelConfig(image_height=h, image_width=w)
    result = measure_pipeline(cfg, args.batch, args.quick)
    print(json.dumps(result, indent=2))
    if args.figure:
        samples_figure(args.figure, (h, w))
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
