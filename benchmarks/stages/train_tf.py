"""Stage `train_tf_b4` (and `_mixed`, `_xla`): seconds per training step of `PINetTrainer`.

What one step is: G_p and G_i forward, both discriminators' update (LSGAN, 5 x 0.5 x (MSE(real, 1)
+ MSE(fake, 0))), then the generator update (L1 + VGG19 relu1_2 perceptual, weight 1 + 5 x LSGAN
against D_P and D_A + parsing cross-entropy), Adam(2e-4, 0.5, 0.999): the authors'
`optimize_parameters`, which stage `train_torch_b4` (`stages/train_torch.py`) runs in PyTorch.
The VGG19 weights are random (written to a temporary file: nothing downloads), since the cost,
not the values, matters. Parameters: `batch`, `mixed` (mixed_float16), `jit` (XLA).

    python -m benchmarks.stages.train_tf                      # official 256x176, batch 4
    python -m benchmarks.stages.train_tf --config tiny --batch 8 --repeats 5

Run standalone it also reports this process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile

from benchmarks.common import configure_tf_threads, model_config, time_calls, train_step_flop
from benchmarks.profiling import tf_profile


def _random_vgg_weights(folder: str) -> str:
    import keras
    path = os.path.join(folder, "vgg19_random_notop.weights.h5")
    keras.applications.VGG19(include_top=False, weights=None).save_weights(path)
    return path


def build_official_trainer(cfg, batch_size: int, mixed_precision: bool = False,
                           jit_compile: bool = False, vgg_weights: str | None = None):
    """(trainer, one batch, step function) for the official schedule at `cfg`'s size."""
    import keras
    import numpy as np
    import tensorflow as tf

    from pinet_tf.models.encoding import keypoints_to_heatmaps
    from pinet_tf.training.config import PHASE_JOINT, TrainConfig
    from pinet_tf.training.run import build_trainer

    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    train_cfg = TrainConfig(schedule="official", steps=(1000,), batch_size=batch_size,
                            vgg_weights=vgg_weights, mixed_precision=mixed_precision)
    trainer = build_trainer(cfg, train_cfg, jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    h, w, b = cfg.image_height, cfg.image_width, batch_size
    batch = {}
    for side in ("source", "target"):
        batch[f"{side}_image"] = rng.uniform(-1, 1, (b, h, w, 3)).astype(np.float32)
        labels = rng.integers(0, cfg.num_classes, (b, h, w))
        batch[f"{side}_parsing_onehot"] = np.eye(cfg.num_classes, dtype=np.float32)[labels]
        kp = np.stack([rng.uniform(0, h, (b, 18)), rng.uniform(0, w, (b, 18))], -1)
        batch[f"{side}_heatmaps"] = keypoints_to_heatmaps(kp, h, w, cfg.heatmap_sigma).numpy()
    batch = {k: tf.constant(v) for k, v in batch.items()}
    step = tf.function(lambda data: trainer.phase_train_step(PHASE_JOINT, data),
                       jit_compile=jit_compile)

    def run_once():
        logs = step(batch)
        return float(logs["g_total"])  # forces the step to finish

    return trainer, batch, run_once


def measure_train_step(cfg, batch_size: int = 4, repeats: int = 3, mixed_precision: bool = False,
                       profile_dir: str | None = None, jit_compile: bool = False) -> dict:
    """Median seconds per step after one warm-up step (tracing), and the step's FLOP."""
    with tempfile.TemporaryDirectory() as tmp:
        _, _, run_once = build_official_trainer(cfg, batch_size, mixed_precision, jit_compile,
                                                _random_vgg_weights(tmp))
        out = {"batch": batch_size, "config": cfg.name,
               "size": [cfg.image_height, cfg.image_width], "mixed_precision": mixed_precision,
               "jit_compile": jit_compile}
        out.update(time_calls(run_once, repeats))
        out["examples_per_s"] = batch_size / out["median_s"]
        out["gflop"] = train_step_flop(cfg, batch_size) / 1e9
        if profile_dir:
            out["profile_top"] = tf_profile(run_once, profile_dir)
    return out


def run(p):
    return measure_train_step(model_config(p["config"], p["size"]), batch_size=p["batch"],
                              repeats=p["repeats"], mixed_precision=p.get("mixed", False),
                              profile_dir=p.get("profile_dir"), jit_compile=p.get("jit", False))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="official", help="ModelConfig preset")
    p.add_argument("--size", default=None, help="HxW (default: the config's)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mixed-precision", action="store_true")
    p.add_argument("--jit-compile", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = model_config(args.config, args.size)
    except ValueError as e:
        p.error(str(e))
    configure_tf_threads(args.threads)
    out = measure_train_step(cfg, args.batch, args.repeats,
                             args.mixed_precision, jit_compile=args.jit_compile)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
