"""What every stage shares: set-up, configs, models to export, inputs, timing, FLOP counting,
results I/O.

Imports nothing else of `benchmarks` (stages, the registry and the runner import it), and no
framework at module level: a torch child never loads TF and a TF child never loads torch.

FLOP convention (the count is the model's arithmetic, the same number for both frameworks, so
that GFLOP/s and the fraction of the measured peak compare like with like): 2 x the
multiply-adds of convolutions and attention matmuls; elementwise work (gates, norms, softmax,
losses, optimiser) is not counted. A backward pass costs 2 x its forward where weight gradients
are needed and 1 x where only input gradients are (frozen VGG, the discriminators inside the
generator's loss); see `train_step_flop`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, "results")

# The peak kernels (stage `peak`): a large matmul, and the generator's dominant layer, a
# 256->256 3x3 gated conv on a 64x44 map (both of its halves: 512 outputs).
MATMUL_N = 2048
CONV_SHAPE = dict(batch=1, height=64, width=44, cin=256, cout=512, k=3)


# -- set-up ----------------------------------------------------------------------------------

def configure_tf_threads(threads: int) -> None:
    """Pin TF to `threads` intra-op and inter-op threads (call before TF runs anything).

    When TF has already run in this process (a test session, a notebook) its thread pools are
    fixed: that is said in one line and the run goes on with them."""
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        print(f"TensorFlow already started in this process: its thread pools stay as they are "
              f"(intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "
              f"not {threads})", file=sys.stderr, flush=True)


def configure_torch_threads(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


def model_config(name: str, size: str | None):
    """The `ModelConfig` preset `name`, at `size` ("HxW") if given."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.datasets.synthetic import parse_size
    cfg = ModelConfig.preset(name)
    if size:
        h, w = parse_size(size)
        cfg = dataclasses.replace(cfg, image_height=h, image_width=w)
    return cfg


def script_parser(doc: str, run_help: str) -> argparse.ArgumentParser:
    """The command line of a standalone benchmark script (`python -m benchmarks.NAME`): TF's
    start-up lines hidden, and the options every script has (--config, --run, --out); the
    description is the first line of `doc`."""
    from pinet_tf.config import PRESETS
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--config", default="tiny", choices=PRESETS)
    p.add_argument("--run", help=run_help)
    p.add_argument("--out", help="write the results JSON here (default: print only)")
    return p


def torch_reference(name: str = "pinet_torch"):
    """A module of `tests/reference/` (imported from the repository root), the code the parity
    tests use: `pinet_torch` (our port of the authors' networks), `official_step` (their
    training iteration)."""
    import importlib
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    return importlib.import_module(f"tests.reference.{name}")


# -- models ----------------------------------------------------------------------------------

def calibrated_random_generator(cfg, seed=0):
    """Random weights, BN moving statistics from one training-mode batch of synthetic people."""
    import keras
    import numpy as np

    from pinet_tf.export.tflite import synthetic_inputs
    from pinet_tf.models import build_generator
    from pinet_tf.models.batchnorm import statistics_from_batch
    from pinet_tf.models.transfer import pose_inputs

    keras.utils.set_random_seed(seed)
    generator = build_generator(cfg)
    items = synthetic_inputs(cfg, 4, seed + 100)
    x = {k: np.concatenate([i[k] for i in items]) for k in items[0]}
    inputs = pose_inputs(cfg, x["source_image"], x["source_parsing"], x["source_keypoints"],
                         x["target_keypoints"])
    statistics_from_batch(generator, inputs)
    return generator


def export_model(cfg, base, run=None):
    """Export the run's generator (or calibrated random weights) to base/1: (path, its config)."""
    from pinet_tf.export.savedmodel import export_saved_model
    from pinet_tf.models.io import load_generator

    if run:
        generator, cfg = load_generator(run)
    else:
        generator = calibrated_random_generator(cfg)
    return export_saved_model(generator, cfg, base), cfg


# -- inputs ----------------------------------------------------------------------------------

def tf_inputs(cfg, batch: int, seed: int = 0) -> dict:
    """Random dense generator inputs (what `build_generator` takes)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    h, w = cfg.image_size
    labels = rng.integers(0, 12, (batch, h, w))
    return {
        "source_image": rng.uniform(-1, 1, (batch, h, w, 3)).astype("float32"),
        "source_parsing_onehot": np.eye(12, dtype="float32")[labels],
        "source_heatmaps": rng.uniform(0, 1, (batch, h, w, 18)).astype("float32"),
        "target_heatmaps": rng.uniform(0, 1, (batch, h, w, 18)).astype("float32"),
    }


def compact_inputs(cfg, batch: int, seed: int = 0) -> dict:
    """Random inputs of the SavedModel's `pose_transfer` signature."""
    import numpy as np
    rng = np.random.default_rng(seed)
    h, w = cfg.image_size
    keypoints = np.stack([rng.uniform(0, h - 1, (batch, 18)), rng.uniform(0, w - 1, (batch, 18))],
                         -1).astype("float32")
    return {
        "source_image": rng.integers(0, 256, (batch, h, w, 3)).astype("uint8"),
        "source_parsing": rng.integers(0, 12, (batch, h, w)).astype("uint8"),
        "source_keypoints": keypoints,
        "target_keypoints": keypoints[:, ::-1].copy(),
    }


# -- timing ----------------------------------------------------------------------------------

def time_calls(fn, repeats: int, warmup: int = 1) -> dict:
    """Median wall time of `fn()` over `repeats` calls after `warmup` calls (not counted)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    warmup_s = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    # CPU seconds (all threads of this process) are less sensitive to other processes on the
    # machine than wall time: a second opinion when comparing variants on a busy machine.
    return {"median_s": statistics.median(times), "times_s": times, "warmup_s": warmup_s,
            "cpu_median_s": statistics.median(cpu)}


# -- FLOP counting ---------------------------------------------------------------------------

def _conv_mac(h, w, k, cin, cout):
    return h * w * k * k * cin * cout


def _half(n):
    return -(-n // 2)  # a stride-2 "same" conv: ceil(n / 2)


def conv_flop(batch, height, width, cin, cout, k):
    return 2.0 * _conv_mac(height, width, k, cin, cout) * batch


def matmul_flop(n=MATMUL_N):
    return 2.0 * n ** 3


def generator_flop(cfg) -> float:
    """FLOP of one generator forward (G_p and G_i) at batch 1: 247.8 G for `official`.

    Counted by hand from the architecture (no model build, so it works in torch processes); the
    tests check it against the built Keras model and the spec's 123.9 GMAC.
    """
    ngf, trunk, h, w = cfg.ngf, 4 * cfg.ngf, cfg.image_height, cfg.image_width

    def gated(hh, ww, k, cin, cout):  # feature and gate halves in one conv
        return _conv_mac(hh, ww, k, cin, 2 * cout)

    def branch(cin, widths, out_channels):
        w1, w2, w3, w4 = (v * ngf for v in widths)
        h2, w2_, h4, w4_ = h // 2, w // 2, h // 4, w // 4
        mac = gated(h, w, 7, cin, w1) + gated(h2, w2_, 3, w1, w2) + gated(h2, w2_, 3, w2, w3)
        mac += gated(h4, w4_, 3, w3, w4) + gated(h4, w4_, 3, w4, trunk)
        mac += 6 * gated(h4, w4_, 3, trunk, trunk)
        n, inner = h4 * w4_, trunk // 8
        mac += n * trunk * (2 * inner + trunk) + n * n * inner + n * n * trunk
        mac += gated(h2, w2_, 3, trunk, 2 * ngf) + gated(h2, w2_, 3, 2 * ngf, 2 * ngf)
        mac += gated(h, w, 3, 2 * ngf, ngf) + gated(h, w, 3, ngf, ngf // 2)
        mac += gated(h, w, cfg.output_kernel_size, ngf // 2, out_channels)
        return mac

    return 2.0 * (branch(51, cfg.parsing_encoder_widths, 12)
                  + branch(45, cfg.image_encoder_widths, 3))


def discriminator_flop(cfg, input_channels: int) -> float:
    """FLOP of one discriminator forward at batch 1 (D_P: 21 input channels, D_A: 6)."""
    ndf, h, w = cfg.ndf, cfg.image_height, cfg.image_width
    h2, w2 = _half(h), _half(w)
    h4, w4 = _half(h2), _half(w2)
    mac = _conv_mac(h, w, 7, input_channels, ndf) + _conv_mac(h2, w2, 3, ndf, 2 * ndf)
    mac += _conv_mac(h4, w4, 3, 2 * ndf, 4 * ndf)
    mac += cfg.discriminator_blocks * 2 * _conv_mac(h4, w4, 3, 4 * ndf, 4 * ndf)
    return 2.0 * mac


def vgg_relu1_2_flop(cfg) -> float:
    """FLOP of VGG19 up to relu1_2 (the perceptual loss's only layer) on one image."""
    h, w = cfg.image_height, cfg.image_width
    return 2.0 * (_conv_mac(h, w, 3, 3, 64) + _conv_mac(h, w, 3, 64, 64))


def train_step_flop(cfg, batch: int) -> float:
    """FLOP of one GAN iteration (the authors' `optimize_parameters`) at `batch`.

    G: forward + backward with weight gradients (3 G). Perceptual loss: VGG on fake and target,
    backward to the fake only (3 V). Adversarial loss of G: each D on the fake, backward to its
    input only (2 D). Each D's update: forward on real and fake, backward with weight gradients
    (6 D). Total 3 G + 3 V + 8 (D_P + D_A) per example.
    """
    d = discriminator_flop(cfg, 18 + 3) + discriminator_flop(cfg, 3 + 3)
    return batch * (3 * generator_flop(cfg) + 3 * vgg_relu1_2_flop(cfg) + 8 * d)


def flop_rate(gflop, seconds, peak_gflops) -> tuple:
    """(achieved GFLOP/s, fraction of the peak) of `gflop` done in `seconds`; None where unknown."""
    if not gflop or not seconds:
        return None, None
    achieved = gflop / seconds
    return achieved, (achieved / peak_gflops if peak_gflops else None)


# -- results I/O -----------------------------------------------------------------------------

def machine_info(torch_ok: bool) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gb"] = int(f.readline().split()[1]) / 2 ** 20
    except OSError:
        pass
    info["load_avg_at_start"] = os.getloadavg()
    from importlib import metadata
    for package in ("tensorflow", "keras", "ai-edge-litert") + (("torch",) if torch_ok else ()):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    info["env"] = {k: v for k, v in os.environ.items()
                   if k.startswith(("OMP_", "KMP_", "MKL_", "TF_", "XLA_"))
                   and k != "TF_CPP_MIN_LOG_LEVEL"}
    return info


def write_json(path: str, data: dict) -> None:
    """Atomically, in insertion order (a results file reads top to bottom as it was built)."""
    from pinet_tf.utils.atomic import write_json as atomic_write_json
    atomic_write_json(path, data, sort_keys=False)


def read_json(path: str) -> dict:
    """A results (or stage output) file; an empty file is an empty dict."""
    import json
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise ValueError(f"{path}: not a JSON results file ({e})") from None

