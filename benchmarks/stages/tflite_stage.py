"""Stages `tflite` and `tflite_trained`: `benchmarks/tflite.py`'s variants, with their FLOP.

Each variant (fp32, fp16, dynamic-int8, int8) is timed on one batch-1 forward; `gflop` is that
forward's FLOP at the exported model's config (the trained run's own with `run`).
"""

from __future__ import annotations

from benchmarks.common import generator_flop, model_config


def run(p):
    from benchmarks import tflite
    cfg = model_config(p["config"], p["size"])
    if p.get("run"):
        from pinet_tf.models.io import resolve_weights
        _, cfg = resolve_weights(p["run"])
    out = tflite.measure_tflite(cfg, repeats=p["repeats"], threads=p["threads"],
                                quick=p["quick"], run=p.get("run"))
    out["gflop"] = generator_flop(cfg) / 1e9
    return out
