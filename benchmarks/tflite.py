"""TFLite variants of a generator export: size, latency (batch 1) and PSNR against the SavedModel.

    python -m benchmarks.tflite --config tiny --run RUN_DIR          # trained weights
    python -m benchmarks.tflite --config official --repeats 3        # random, BN-calibrated

Also the `tflite` stage of `benchmarks/run.py` (`measure_tflite`). Every variant is converted from
the same `pinet-tf export` SavedModel and run with `ai_edge_litert` on `--threads` threads;
latency is the median of `--repeats` calls after one warm-up; PSNR compares the uint8 images with
the SavedModel's on held-out synthetic people (not the int8 calibration samples). Without --run the
weights are random with BatchNorm statistics taken from one batch, so activations are O(1):
quantisation PSNR on such weights is far below trained weights' (the tests check the thresholds
on trained weights).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import export_model, script_parser, time_calls, write_json

VARIANTS = {"fp32": "none", "fp16": "float16", "dynamic-int8": "dynamic-int8", "int8": "int8"}


def measure_tflite(cfg, repeats=5, threads=2, quick=False, run=None, samples=8) -> dict:
    import tensorflow as tf

    from pinet_tf.export import tflite

    if quick:
        repeats, samples = min(repeats, 2), min(samples, 2)
    with tempfile.TemporaryDirectory() as tmp:
        path, cfg = export_model(cfg, os.path.join(tmp, "pinet"), run)
        items = tflite.synthetic_inputs(cfg, samples, seed=99)
        held_out = {k: np.concatenate([i[k] for i in items]) for k in items[0]}
        loaded = tf.saved_model.load(path)
        fn = loaded.signatures["serving_default"]
        reference = {k: v.numpy() for k, v in fn(**held_out).items()}
        one = items[0]
        result = {"config": cfg.name, "image_size": list(cfg.image_size), "threads": threads,
                  "weights": f"trained ({run})" if run else "random, BN-calibrated",
                  "savedmodel": {"median_s": time_calls(lambda: fn(**one), repeats)["median_s"],
                                 "variables_mb": sum(os.path.getsize(os.path.join(d, f))
                                                     for d, _, fs in os.walk(
                                                         os.path.join(path, "variables"))
                                                     for f in fs) / 1e6},
                  "variants": {}}
        for name, mode in VARIANTS.items():
            start = time.perf_counter()
            blob = tflite.convert(path, mode, calibration_samples=4 if quick else 32)
            convert_s = time.perf_counter() - start
            runner = tflite.TFLiteRunner(blob, num_threads=threads)
            out = runner(**held_out)
            result["variants"][name] = {
                "quantize": mode, "size_mb": len(blob) / 1e6, "convert_s": convert_s,
                "median_s": time_calls(lambda: runner(**one), repeats)["median_s"],
                "psnr_db": tflite.psnr_uint8(out["image"], reference["image"]),
                "parsing_agreement": float(np.mean(out["parsing"] == reference["parsing"])),
            }
    return result


def main(argv=None) -> int:
    p = script_parser(__doc__, run_help="RUN_DIR with trained weights (default: random weights)")
    from pinet_tf.config import ModelConfig

    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--samples", type=int, default=8, help="held-out examples for PSNR")
    args = p.parse_args(argv)
    result = measure_tflite(ModelConfig.preset(args.config), args.repeats, args.threads,
                            run=args.run, samples=args.samples)
    print(f"{result['config']} {result['image_size']}, {result['weights']}, "
          f"{args.threads} threads; SavedModel b1 {result['savedmodel']['median_s'] * 1e3:.1f} ms")
    print(f"{'variant':>13} {'size MB':>8} {'b1 ms':>8} {'PSNR dB':>8} {'parsing':>8}")
    for name, v in result["variants"].items():
        print(f"{name:>13} {v['size_mb']:8.2f} {v['median_s'] * 1e3:8.1f} {v['psnr_db']:8.1f} "
              f"{v['parsing_agreement']:8.3f}")
    if args.out:
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
