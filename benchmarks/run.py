"""Benchmarks of pinet-tf against the authors' PyTorch implementation, in the same run.

    python -m benchmarks.run --name cpu-2core            # full run, official config, 256x176
    python -m benchmarks.run --name dev --quick --only forward,peak
    python -m benchmarks.run --name smoke --quick --config tiny --only forward_keras_b1

Every stage runs in its own subprocess, so its peak resident memory (``ru_maxrss`` of that child,
from ``os.wait4``) belongs to it alone, and TF and torch never share a process. Times are medians
over ``--repeats`` after one warm-up call. Both frameworks get the same thread count (``--threads``,
default 2: TF intra-op, torch ``set_num_threads``).

Writes ``benchmarks/results/<name>.json`` (every stage's raw numbers, the top-level ``ratios``
object, ``peak_fraction``, ``targets``) and ``<name>.md`` (the table, `benchmarks/to_markdown.py`).

Stages (``--only`` takes stage names or the group names in brackets, comma-separated):
  [peak]      peak_tf, peak_torch           large matmul / conv GFLOP/s (benchmarks/peak.py)
  [forward]   forward_{keras,savedmodel,torch}_b{1,8}   generator forward, eval mode
  [train]     train_tf_b4, train_torch_b4   G + both Ds + VGG relu1_2 perceptual, LSGAN, Adam
  [tflite]    tflite                        fp32/fp16/int8 size, latency, PSNR (benchmarks/tflite.py)
  [data]      data                          tf.data examples/s (benchmarks/data_pipeline.py)
  [variants]  forward_keras_b{1,8}_xla, forward_keras_b1_onednn_off, forward_keras_b1_bnfold,
              forward_savedmodel_b8_xla     the optimisations tried (benchmarks/README.md)
Torch stages are skipped with a reason when torch is not installed (or with ``--no-torch``); the
JSON keeps the same keys, with nulls and that reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, "results")

# The issue's targets: ratio key -> (comparison, bound).
TARGETS = {
    "forward_b1": ("<=", 0.9),
    "forward_b8": ("<=", 0.7),
    "train_step_b4": ("<=", 0.8),
    "train_peak_memory": ("<=", 0.8),
    "tflite_best_forward": ("<=", 0.8),
    "tflite_int8_size": ("<=", 0.3),
    "data_over_train": (">=", 5.0),
}
PEAK_FRACTION_TARGET = {"forward_b1": 0.85}
RATIO_KEYS = tuple(TARGETS)


# ---------------------------------------------------------------------------------------------
# Helpers shared by the stages (and by benchmarks/peak.py)

def configure_tf_threads(threads: int) -> None:
    """Pin TF to `threads` intra-op threads (call before TF runs anything)."""
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


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


def model_config(name: str, size: str | None):
    from pinet_tf.config import ModelConfig
    cfg = ModelConfig.preset(name)
    if size:
        h, w = parse_size(size)
        cfg = dataclasses.replace(cfg, image_height=h, image_width=w)
    return cfg


def parse_size(text: str) -> tuple:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 256x176, got {text!r}") from None
    return h, w


def generator_flop(cfg) -> float:
    """FLOP of one generator forward at batch 1 (2 x MACs of convs and attention matmuls).

    Counted from the built Keras model: 247.8 GFLOP for `official` (the spec's 123.9 GMAC).
    Elementwise ops (gates, BatchNorm, softmax) are left out. The stages use the equivalent
    `generator_flop_torchless` (no model build, works in torch processes); the tests check that
    the two agree.
    """
    import keras
    from pinet_tf.layers import GatedConv2D, GatedUpsample2D, SelfAttention
    from pinet_tf.models import build_generator

    def walk(model):
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                yield from walk(layer)
            else:
                yield layer

    mac = 0
    for layer in walk(build_generator(cfg)):
        if isinstance(layer, (GatedConv2D, GatedUpsample2D)):
            gc = layer if isinstance(layer, GatedConv2D) else layer.gated_conv
            kh, kw, cin, cout = gc.conv.kernel.shape
            _, h, w, _ = layer.output.shape
            mac += h * w * kh * kw * cin * cout
        elif isinstance(layer, SelfAttention):
            _, h, w, c = layer.output.shape
            n, inner = h * w, c // layer.reduction
            mac += n * c * (2 * inner + c) + n * n * inner + n * n * c
    return 2.0 * mac


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


def summarise_xplane(logdir: str, top: int = 12) -> list:
    """Op type -> total time from a `tf.profiler` trace: [[op, ms, percent], ...] (largest first).

    Sums the duration of every TF op event on the executor threads of the host plane; ops on
    parallel threads overlap, so the percentages are of summed op time, not of wall time.
    """
    import glob
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    paths = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))
    if not paths:
        return []
    space = xplane_pb2.XSpace()
    with open(paths[-1], "rb") as f:
        space.ParseFromString(f.read())
    totals = {}
    for plane in space.planes:
        if not plane.name.startswith("/host"):
            continue
        for line in plane.lines:
            if line.name == "python":
                continue
            for ev in line.events:
                meta = plane.event_metadata[ev.metadata_id]
                if not meta.display_name or ":" not in meta.name:
                    continue
                totals[meta.display_name] = totals.get(meta.display_name, 0) + ev.duration_ps
    total = sum(totals.values()) or 1
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [[op, ps / 1e9, 100.0 * ps / total] for op, ps in rows]


def tf_profile(fn, logdir: str) -> list:
    import tensorflow as tf
    tf.profiler.experimental.start(logdir)
    try:
        fn()
    finally:
        tf.profiler.experimental.stop()
    return summarise_xplane(logdir)


def torch_profile(fn, top: int = 12) -> list:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [e for e in prof.key_averages() if not e.key.startswith("ProfilerStep")]
    total = sum(e.self_cpu_time_total for e in events) or 1
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [[e.key, e.self_cpu_time_total / 1e3, 100.0 * e.self_cpu_time_total / total]
            for e in events[:top]]


# ---------------------------------------------------------------------------------------------
# Stages (run inside the child process; each returns a JSON-able dict)

def _tf_generator(cfg, batch=1):
    from pinet_tf.models import build_generator
    t0 = time.perf_counter()
    generator = build_generator(cfg)
    build_s = time.perf_counter() - t0
    randomise_tf(generator, tf_inputs(cfg, batch, seed=1))
    return generator, build_s


def randomise_tf(generator, inputs, seed=0, attention_gamma=0.7, output_scale=0.4):
    """Random weights with O(1) activations in inference mode, like a trained model.

    Plain random weights shrink the activations layer by layer to ~1e-9 and below (keras3-notes),
    into float32 denormals, which make x86 arithmetic many times slower where they are not
    flushed to zero (torch does not flush by default: 0.10 s vs 0.02 s for the tiny generator).
    So both frameworks get what `tests/reference/pinet_torch.randomise_` does: random BN
    gamma/beta, attention gamma 0.7, and BN moving statistics set from one batch.
    """
    import keras
    import numpy as np
    rng = np.random.default_rng(seed)
    bns, last = [], []

    def walk(layer):
        for sub in getattr(layer, "_layers", []) + list(getattr(layer, "layers", [])):
            yield sub
            yield from walk(sub)

    seen = set()
    for layer in walk(generator):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.layers.BatchNormalization):
            bns.append(layer)
        elif layer.__class__.__name__ == "SelfAttention":
            layer.gamma.assign(np.full((1,), attention_gamma, "float32"))
        elif layer.__class__.__name__ == "GatedConv2D" and layer.name.endswith("gc17"):
            last.append(layer.bn)
    for bn in bns:
        n = bn.gamma.shape[0]
        scale = output_scale if bn in last else 1.0
        bn.gamma.assign((scale * (0.5 + rng.uniform(0, 1, n))).astype("float32"))
        bn.beta.assign((scale * 0.2 * rng.normal(size=n)).astype("float32"))
        bn.momentum = 0.0
    generator(inputs, training=True)
    for bn in bns:
        bn.momentum = 0.9


def fold_batchnorm(generator) -> float:
    """Fold each GatedConv2D's inference BatchNorm into its feature conv, in place.

    BN(s) after the gate is y * scale + shift per channel. Where every scale of a layer is > 0,
    scale * leaky_relu(f) = leaky_relu(scale * f), so the scale goes into the feature half of the
    kernel and bias and only `+ shift` remains (one elementwise pass instead of two). Returns the
    fraction of BN layers folded. For the benchmark only: the layer's `call` is replaced.
    """
    import numpy as np
    import tensorflow as tf
    from keras import ops
    from pinet_tf.layers import GatedConv2D
    from pinet_tf.layers.gated_conv import LEAKY_SLOPE

    def folded_call(self, x, training=None):
        both = self.conv(self.pad(x))
        feature, gate = both[..., :self.filters], both[..., self.filters:]
        if self.activation == "leaky_relu":
            feature = ops.leaky_relu(feature, negative_slope=LEAKY_SLOPE)
        y = feature * ops.sigmoid(gate)
        if self._fold_scale is not None:
            y = y * self._fold_scale
        return y + self._fold_shift if self._fold_shift is not None else y

    def walk(layer):
        for sub in getattr(layer, "_layers", []) + list(getattr(layer, "layers", [])):
            yield sub
            yield from walk(sub)

    seen, folded, total = set(), 0, 0
    for layer in walk(generator):
        if not isinstance(layer, GatedConv2D) or id(layer) in seen or layer.bn is None:
            continue
        seen.add(id(layer))
        total += 1
        bn = layer.bn
        scale = (np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon))
        shift = np.asarray(bn.beta) - np.asarray(bn.moving_mean) * scale
        layer._fold_shift = tf.constant(shift.astype("float32"))
        layer._fold_scale = None
        if np.all(scale > 0) or layer.activation is None:
            kernel = np.asarray(layer.conv.kernel).copy()
            bias = np.asarray(layer.conv.bias).copy()
            kernel[..., :layer.filters] *= scale
            bias[:layer.filters] *= scale
            layer.conv.kernel.assign(kernel)
            layer.conv.bias.assign(bias)
            folded += 1
        else:
            layer._fold_scale = tf.constant(scale.astype("float32"))
        layer.call = folded_call.__get__(layer)
    return folded / max(total, 1)


def stage_peak_tf(p):
    from benchmarks.peak import tf_peak
    return tf_peak(p["threads"], max(3, p["repeats"]))


def stage_peak_torch(p):
    from benchmarks.peak import torch_peak
    return torch_peak(p["threads"], max(3, p["repeats"]))


def stage_forward_keras(p):
    import numpy as np
    import tensorflow as tf
    cfg = model_config(p["config"], p["size"])
    generator, build_s = _tf_generator(cfg)
    x = {k: tf.constant(v) for k, v in tf_inputs(cfg, p["batch"]).items()}
    out_scale = float(np.std(generator(x, training=False)["image"].numpy()))
    out = {"batch": p["batch"], "build_s": build_s, "jit_compile": p.get("jit", False),
           "output_std": out_scale}
    if p.get("bnfold"):
        reference = generator(x, training=False)["image"].numpy()
        out["bn_folded_fraction"] = fold_batchnorm(generator)
    fn = tf.function(lambda inputs: generator(inputs, training=False),
                     jit_compile=p.get("jit", False))
    if p.get("bnfold"):
        out["bnfold_max_abs_diff"] = float(np.max(np.abs(fn(x)["image"].numpy() - reference)))
    out.update(time_calls(lambda: fn(x)["image"].numpy(), p["repeats"]))
    out["gflop"] = generator_flop_torchless(cfg) * p["batch"] / 1e9
    if p.get("profile_dir"):
        out["profile_top"] = tf_profile(lambda: fn(x)["image"].numpy(), p["profile_dir"])
    return out


def stage_forward_ab(p):
    """Keras forward variants timed interleaved (A B C A B C ...) in one process.

    On a shared machine the load drifts between stages; interleaving gives each variant the
    same conditions, so their ratios are trustworthy even when the absolute times are not.
    """
    import numpy as np
    import tensorflow as tf
    from pinet_tf.models import build_generator
    cfg = model_config(p["config"], p["size"])
    base, _ = _tf_generator(cfg)
    folded = build_generator(cfg)
    folded.set_weights(base.get_weights())
    fraction = fold_batchnorm(folded)
    x = {k: tf.constant(v) for k, v in tf_inputs(cfg, p["batch"]).items()}
    fns = {
        "keras": tf.function(lambda i: base(i, training=False)),
        "keras_xla": tf.function(lambda i: base(i, training=False), jit_compile=True),
        "keras_bnfold": tf.function(lambda i: folded(i, training=False)),
        "keras_bnfold_xla": tf.function(lambda i: folded(i, training=False), jit_compile=True),
    }
    ref = fns["keras"](x)["image"].numpy()
    diffs = {k: float(np.max(np.abs(f(x)["image"].numpy() - ref))) for k, f in fns.items()}
    times = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(p["repeats"]):
        for k, f in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f(x)["image"].numpy()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"batch": p["batch"], "bn_folded_fraction": fraction, "max_abs_diff": diffs,
            "variants": {k: {"median_s": med[k], "times_s": times[k],
                             "cpu_median_s": statistics.median(cpu[k]),
                             "vs_keras": med[k] / med["keras"]} for k in fns}}


def stage_forward_savedmodel(p):
    import tensorflow as tf
    from pinet_tf.export.savedmodel import POSE_TRANSFER, export_saved_model
    cfg = model_config(p["config"], p["size"])
    generator, _ = _tf_generator(cfg)
    tmp = tempfile.mkdtemp(prefix="pinet-bench-sm-")
    try:
        t0 = time.perf_counter()
        path = export_saved_model(generator, cfg, tmp, version=1)
        export_s = time.perf_counter() - t0
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(path) for f in files)
        del generator
        loaded = tf.saved_model.load(path)  # keep a reference while calling (keras3-notes)
        fn = loaded.signatures[POSE_TRANSFER]
        if p.get("jit"):
            fn = tf.function(fn, jit_compile=True)
        x = {k: tf.constant(v) for k, v in compact_inputs(cfg, p["batch"]).items()}
        out = {"batch": p["batch"], "export_s": export_s, "savedmodel_mb": size / 2 ** 20,
               "signature": POSE_TRANSFER, "jit_compile": p.get("jit", False)}
        out.update(time_calls(lambda: fn(**x)["image"].numpy(), p["repeats"]))
        out["gflop"] = generator_flop_torchless(cfg) * p["batch"] / 1e9
        if p.get("profile_dir"):
            out["profile_top"] = tf_profile(lambda: fn(**x)["image"].numpy(), p["profile_dir"])
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _torch_reference():
    sys.path.insert(0, ROOT)
    from tests.reference import pinet_torch
    return pinet_torch


def stage_forward_torch(p):
    import torch
    torch.set_num_threads(p["threads"])
    ref = _torch_reference()
    cfg = model_config(p["config"], p["size"])
    h, w = cfg.image_size
    netG = ref.build_netG(ngf=cfg.ngf)
    ref.randomise_(netG, ref.random_inputs(1, h, w, seed=1))  # O(1) activations, eval mode
    x = ref.random_inputs(p["batch"], h, w)

    def run():
        with torch.no_grad():
            netG(x)

    out = {"batch": p["batch"], "torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.no_grad():
        out["output_std"] = float(netG(x)[0].std())
    out.update(time_calls(run, p["repeats"]))
    out["gflop"] = generator_flop_torchless(cfg) * p["batch"] / 1e9
    if p.get("profile_dir"):
        out["profile_top"] = torch_profile(run)
    return out


def generator_flop_torchless(cfg) -> float:
    """`generator_flop` without TF in a torch process: the same count, done by hand."""
    ngf, trunk, h, w = cfg.ngf, 4 * cfg.ngf, cfg.image_height, cfg.image_width

    def conv(hh, ww, k, cin, cout):
        return hh * ww * k * k * cin * 2 * cout

    def branch(cin, widths, out_channels):
        w1, w2, w3, w4 = (v * ngf for v in widths)
        h2, w2_, h4, w4_ = h // 2, w // 2, h // 4, w // 4
        mac = conv(h, w, 7, cin, w1) + conv(h2, w2_, 3, w1, w2) + conv(h2, w2_, 3, w2, w3)
        mac += conv(h4, w4_, 3, w3, w4) + conv(h4, w4_, 3, w4, trunk)
        mac += 6 * conv(h4, w4_, 3, trunk, trunk)
        n, inner = h4 * w4_, trunk // 8
        mac += n * trunk * (2 * inner + trunk) + n * n * inner + n * n * trunk
        mac += conv(h2, w2_, 3, trunk, 2 * ngf) + conv(h2, w2_, 3, 2 * ngf, 2 * ngf)
        mac += conv(h, w, 3, 2 * ngf, ngf) + conv(h, w, 3, ngf, ngf // 2)
        mac += conv(h, w, cfg.output_kernel_size, ngf // 2, out_channels)
        return mac

    return 2.0 * (branch(51, cfg.parsing_encoder_widths, 12)
                  + branch(45, cfg.image_encoder_widths, 3))


def stage_train_tf(p):
    from benchmarks import train_step as ts
    cfg = model_config(p["config"], p["size"])
    return ts.measure_train_step(cfg, batch_size=p["batch"], repeats=p["repeats"],
                                 mixed_precision=p.get("mixed", False),
                                 profile_dir=p.get("profile_dir"), jit_compile=p.get("jit", False))


def stage_train_torch(p):
    """One training iteration of the authors' code (`optimize_parameters`), built from the spec.

    G: L1 + VGG19 relu1_2 perceptual L1 (weight 1) + 5 * LSGAN against both Ds (averaged) +
    parsing cross-entropy, then D_PP and D_PB each 5 * 0.5 * (MSE(real, 1) + MSE(fake, 0)).
    Adam(2e-4, 0.5, 0.999) for all three; train mode (BatchNorm batch statistics, D dropout).
    The VGG weights are random: the cost, not the values, matters here.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn
    torch.set_num_threads(p["threads"])
    torch.manual_seed(0)
    ref = _torch_reference()
    cfg = model_config(p["config"], p["size"])
    h, w = cfg.image_size
    b = p["batch"]
    netG = ref.build_netG(ngf=cfg.ngf).train()
    netD_PB = ref.build_netD_PB(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks).train()
    netD_PP = ref.build_netD_PP(ndf=cfg.ndf, n_blocks=cfg.discriminator_blocks).train()
    vgg = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(True),
                        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(True))
    for q in vgg.parameters():
        q.requires_grad_(False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def features(img):
        return vgg(((img + 1) / 2 - mean) / std)

    adam = dict(lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(netG.parameters(), **adam)
    opt_pb = torch.optim.Adam([q for q in netD_PB.parameters() if q.requires_grad], **adam)
    opt_pp = torch.optim.Adam([q for q in netD_PP.parameters() if q.requires_grad], **adam)
    x1, x2, x3, x4 = ref.random_inputs(b, h, w)
    target = torch.rand(b, 3, h, w) * 2 - 1
    target_labels = torch.randint(0, 12, (b, h, w))
    pose_t = x2[:, 18:]

    def lsgan(score, real):
        return F.mse_loss(score, torch.full_like(score, 1.0 if real else 0.0))

    def step():
        fake, parse = netG([x1, x2, x3, x4])
        opt_g.zero_grad()
        loss_g = F.l1_loss(fake, target) + F.l1_loss(features(fake), features(target).detach())
        loss_g = loss_g + 5 * 0.5 * (lsgan(netD_PB(torch.cat([pose_t, fake], 1)), True)
                                     + lsgan(netD_PP(torch.cat([fake, x1], 1)), True))
        loss_g = loss_g + F.cross_entropy(parse, target_labels)
        loss_g.backward()
        opt_g.step()
        fake = fake.detach()
        for net, opt, real_in, fake_in in (
                (netD_PP, opt_pp, torch.cat([target, x1], 1), torch.cat([fake, x1], 1)),
                (netD_PB, opt_pb, torch.cat([pose_t, target], 1), torch.cat([pose_t, fake], 1))):
            opt.zero_grad()
            loss_d = 5 * 0.5 * (lsgan(net(real_in), True) + lsgan(net(fake_in), False))
            loss_d.backward()
            opt.step()

    out = {"batch": b, "torch": torch.__version__, "threads": torch.get_num_threads()}
    out.update(time_calls(step, p["repeats"]))
    out["examples_per_s"] = b / out["median_s"]
    if p.get("profile_dir"):
        out["profile_top"] = torch_profile(step)
    return out


def stage_tflite(p):
    from benchmarks import tflite
    cfg = model_config(p["config"], p["size"])
    return tflite.measure_tflite(cfg, repeats=p["repeats"], threads=p["threads"],
                                 quick=p["quick"], run=p.get("run"))


def stage_data(p):
    from benchmarks import data_pipeline
    cfg = model_config(p["config"], p["size"])
    return data_pipeline.measure_pipeline(cfg, batch_size=4, quick=p["quick"])


STAGE_FUNCTIONS = {
    "peak_tf": stage_peak_tf, "peak_torch": stage_peak_torch,
    "forward_keras": stage_forward_keras, "forward_savedmodel": stage_forward_savedmodel,
    "forward_torch": stage_forward_torch, "forward_ab": stage_forward_ab,
    "train_tf": stage_train_tf, "train_torch": stage_train_torch,
    "tflite": stage_tflite, "data": stage_data,
}


@dataclasses.dataclass
class Stage:
    name: str
    group: str
    kind: str              # key of STAGE_FUNCTIONS
    params: dict
    torch: bool = False    # needs torch
    env: dict = dataclasses.field(default_factory=dict)


def all_stages(args) -> list:
    s = []
    s += [Stage("peak_tf", "peak", "peak_tf", {}),
          Stage("peak_torch", "peak", "peak_torch", {}, torch=True)]
    for b in (1, 8):
        s += [Stage(f"forward_keras_b{b}", "forward", "forward_keras", {"batch": b}),
              Stage(f"forward_savedmodel_b{b}", "forward", "forward_savedmodel", {"batch": b}),
              Stage(f"forward_torch_b{b}", "forward", "forward_torch", {"batch": b}, torch=True)]
    s += [Stage("train_tf_b4", "train", "train_tf", {"batch": 4}),
          Stage("train_torch_b4", "train", "train_torch", {"batch": 4}, torch=True)]
    if args.mixed_precision:
        s.append(Stage("train_tf_b4_mixed", "train", "train_tf", {"batch": 4, "mixed": True}))
    s.append(Stage("tflite", "tflite", "tflite", {}))
    if args.trained_run:  # PSNR of the quantised files means something only on trained weights
        s.append(Stage("tflite_trained", "tflite", "tflite", {"run": args.trained_run}))
    s.append(Stage("data", "data", "data", {}))
    s += [Stage("forward_keras_b1_xla", "variants", "forward_keras", {"batch": 1, "jit": True}),
          Stage("forward_keras_b8_xla", "variants", "forward_keras", {"batch": 8, "jit": True}),
          Stage("forward_savedmodel_b8_xla", "variants", "forward_savedmodel",
                {"batch": 8, "jit": True}),
          Stage("forward_keras_b1_onednn_off", "variants", "forward_keras", {"batch": 1},
                env={"TF_ENABLE_ONEDNN_OPTS": "0"}),
          Stage("forward_keras_b1_bnfold", "variants", "forward_keras",
                {"batch": 1, "bnfold": True}),
          Stage("train_tf_b4_xla", "variants", "train_tf", {"batch": 4, "jit": True}),
          Stage("forward_ab_b1", "variants", "forward_ab", {"batch": 1}),
          Stage("forward_ab_b8", "variants", "forward_ab", {"batch": 8})]
    return s


def select_stages(stages: list, only: str | None) -> list:
    if not only:
        return stages
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = {st.name for st in stages} | {st.group for st in stages}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"--only: unknown stage or group {unknown}; known: {sorted(known)}")
    return [st for st in stages if st.name in wanted or st.group in wanted]


def torch_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


# ---------------------------------------------------------------------------------------------
# Parent side: run each stage in a child process and collect

def run_stage(stage: Stage, common: dict, timeout_s: float, log_dir: str) -> dict:
    """Run one stage in a fresh interpreter; add its peak RSS (MiB) and wall time."""
    params = {**common, **stage.params}
    if common.get("profile_root"):
        params["profile_dir"] = os.path.join(common["profile_root"], stage.name)
    fd, out_path = tempfile.mkstemp(prefix=f"stage-{stage.name}-", suffix=".json")
    os.close(fd)
    log_path = os.path.join(log_dir, f"{stage.name}.log")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    env.update(stage.env)
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", stage.kind,
           "--child-params", json.dumps(params), "--child-out", out_path]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = t0 + timeout_s
        status, rusage = None, None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    result = {"stage_wall_s": wall, "peak_rss_mb": rusage.ru_maxrss / 1024.0,
              "env": stage.env or None}
    try:
        with open(out_path) as f:
            text = f.read()
        result.update(json.loads(text) if text.strip() else {})
    except (OSError, ValueError):
        pass
    finally:
        if os.path.exists(out_path):
            os.unlink(out_path)
    if proc.returncode != 0 and not result.get("error"):
        with open(log_path) as f:
            tail = f.read()[-1500:]
        why = (f"timed out after {timeout_s:.0f} s" if time.perf_counter() > deadline
               else f"exit code {proc.returncode}")
        result["error"] = f"{why}; log tail: {tail}"
    return result


def child_main(kind: str, params: dict, out_path: str) -> int:
    """Inside the child: configure threads, run the stage, write its JSON."""
    if kind not in STAGE_FUNCTIONS:
        raise ValueError(f"unknown stage kind {kind!r}")
    if not kind.endswith("torch"):
        configure_tf_threads(params["threads"])
    try:
        result = STAGE_FUNCTIONS[kind](params)
    except ImportError as e:
        result = {"error": f"not available: {e}"}
    if not kind.endswith("torch") and "error" not in result:
        import tensorflow as tf
        result.setdefault("gpus", len(tf.config.list_physical_devices("GPU")))
    with open(out_path, "w") as f:
        json.dump(result, f)
    return 0


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


# ---------------------------------------------------------------------------------------------
# Ratios

def _median(stages, name):
    st = stages.get(name) or {}
    return st.get("median_s")


def _why(stages, *names):
    for n in names:
        st = stages.get(n)
        if st is None:
            return f"stage {n} not run (see --only)"
        if st.get("skipped"):
            return f"stage {n} skipped: {st['skipped']}"
        if st.get("error"):
            return f"stage {n} failed: {st['error'][:300]}"
    return "missing value"


def compute_ratios(stages: dict) -> tuple:
    """(ratios, reasons for nulls, what each ratio divided) from the stage results."""
    ratios, reasons, basis = {}, {}, {}

    def put(key, num, den, num_desc, den_desc, names):
        if num is None or den is None or not den:
            ratios[key] = None
            reasons[key] = _why(stages, *names)
        else:
            ratios[key] = num / den
            basis[key] = f"{num_desc} / {den_desc}"

    for b in (1, 8):
        put(f"forward_b{b}", _median(stages, f"forward_savedmodel_b{b}"),
            _median(stages, f"forward_torch_b{b}"),
            f"SavedModel pose_transfer b{b}", f"PyTorch netG b{b}",
            [f"forward_savedmodel_b{b}", f"forward_torch_b{b}"])
    put("train_step_b4", _median(stages, "train_tf_b4"), _median(stages, "train_torch_b4"),
        "TF train step b4", "PyTorch train step b4", ["train_tf_b4", "train_torch_b4"])
    put("train_peak_memory", (stages.get("train_tf_b4") or {}).get("peak_rss_mb")
        if _median(stages, "train_tf_b4") else None,
        (stages.get("train_torch_b4") or {}).get("peak_rss_mb")
        if _median(stages, "train_torch_b4") else None,
        "TF train peak RSS", "PyTorch train peak RSS", ["train_tf_b4", "train_torch_b4"])
    tfl = stages.get("tflite") or {}
    variants = {k: v for k, v in (tfl.get("variants") or {}).items()
                if isinstance(v, dict) and v.get("median_s")}
    best = min(variants.items(), key=lambda kv: kv[1]["median_s"]) if variants else None
    put("tflite_best_forward", best[1]["median_s"] if best else None,
        _median(stages, "forward_torch_b1"),
        f"TFLite {best[0] if best else '?'} b1", "PyTorch fp32 netG b1",
        ["tflite", "forward_torch_b1"])
    sizes = {k: (v or {}).get("size_mb") for k, v in (tfl.get("variants") or {}).items()}
    put("tflite_int8_size", sizes.get("int8"), sizes.get("fp32"), "int8 file", "fp32 file",
        ["tflite"])
    data = stages.get("data") or {}
    train = stages.get("train_tf_b4") or {}
    train_eps = (train["batch"] / train["median_s"]) if train.get("median_s") else None
    put("data_over_train", data.get("examples_per_s"), train_eps,
        "tf.data examples/s", "TF training examples/s (b4)", ["data", "train_tf_b4"])
    return ratios, reasons, basis


def compute_peak_fraction(stages: dict) -> tuple:
    peak = (stages.get("peak_tf") or {}).get("peak_gflops")
    torch_peak = (stages.get("peak_torch") or {}).get("peak_gflops") or peak
    fractions, achieved = {}, {}
    for name, key, pk in (("forward_savedmodel_b1", "forward_b1", peak),
                          ("forward_savedmodel_b8", "forward_b8", peak),
                          ("forward_keras_b1", "forward_keras_b1", peak),
                          ("forward_keras_b8", "forward_keras_b8", peak),
                          ("forward_keras_b8_xla", "forward_keras_b8_xla", peak),
                          ("forward_torch_b1", "forward_torch_b1", torch_peak),
                          ("forward_torch_b8", "forward_torch_b8", torch_peak)):
        st = stages.get(name) or {}
        if st.get("median_s") and st.get("gflop"):
            achieved[key] = st["gflop"] / st["median_s"]
            fractions[key] = achieved[key] / pk if pk else None
        elif key == "forward_b1":
            fractions[key] = None
    return fractions, achieved


def int8_psnr(stages: dict):
    """(PSNR dB of the int8 TFLite file vs the SavedModel on trained weights, or None, reason)."""
    st = stages.get("tflite_trained")
    if st is None:
        return None, "stage tflite_trained not run (pass --trained-run RUN_DIR)"
    v = ((st.get("variants") or {}).get("int8") or {}).get("psnr_db")
    return v, None if v is not None else _why(stages, "tflite_trained")


def check_targets(ratios: dict, fractions: dict, psnr=None) -> dict:
    out = {}
    for key, (op, bound) in TARGETS.items():
        v = ratios.get(key)
        met = None if v is None else (v <= bound if op == "<=" else v >= bound)
        out[key] = {"target": f"{op} {bound}", "value": v, "met": met}
    for key, bound in PEAK_FRACTION_TARGET.items():
        v = fractions.get(key)
        out[f"peak_fraction.{key}"] = {"target": f">= {bound}", "value": v,
                                       "met": None if v is None else v >= bound}
    out["tflite_int8_psnr_db"] = {"target": ">= 30.0", "value": psnr,
                                  "met": None if psnr is None else psnr >= 30.0}
    return out


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="local", help="results file name (results/<name>.json)")
    p.add_argument("--out-dir", default=RESULTS_DIR)
    p.add_argument("--config", default="official", help="ModelConfig preset (official)")
    p.add_argument("--size", default=None, help="HxW override, e.g. 64x44")
    p.add_argument("--only", default=None, help="comma-separated stages or groups")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per stage (3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true",
                   help="1 repeat, smaller TFLite/data runs: for development, not for the record")
    p.add_argument("--mixed-precision", action="store_true",
                   help="also time the TF train step under mixed_float16 (meant for a GPU)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--trained-run", default=None,
                   help="RUN_DIR of a trained model (any config): adds stage tflite_trained, "
                        "the TFLite PSNR on trained weights (int8 target >= 30 dB)")
    p.add_argument("--profile", action="store_true",
                   help="add a tf.profiler / torch.profiler op table to each stage")
    p.add_argument("--stage-timeout", type=float, default=3600.0)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-params", help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, json.loads(args.child_params), args.child_out)
    repeats = args.repeats or (1 if args.quick else 3)
    model_config(args.config, args.size)  # validate early
    torch_ok = torch_available() and not args.no_torch
    torch_reason = "--no-torch given" if args.no_torch else "torch is not installed " \
        "(pip install -e '.[torch]')"
    stages = select_stages(all_stages(args), args.only)
    os.makedirs(args.out_dir, exist_ok=True)
    log_dir = tempfile.mkdtemp(prefix="pinet-bench-logs-")
    common = {"config": args.config, "size": args.size, "threads": args.threads,
              "repeats": repeats, "quick": args.quick}
    if args.profile:
        common["profile_root"] = os.path.join(args.out_dir, f"{args.name}-profiles")
    results = {
        "name": args.name,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {**{k: v for k, v in common.items() if k != "profile_root"},
                     "mixed_precision": args.mixed_precision, "only": args.only,
                     "warmup": 1, "statistic": "median"},
        "machine": machine_info(torch_ok),
        "stages": {},
    }
    for stage in stages:
        if stage.torch and not torch_ok:
            results["stages"][stage.name] = {"skipped": torch_reason}
            print(f"[bench] {stage.name}: skipped ({torch_reason})", flush=True)
            continue
        print(f"[bench] {stage.name} ...", flush=True)
        res = run_stage(stage, common, args.stage_timeout, log_dir)
        results["stages"][stage.name] = res
        shown = res.get("median_s")
        print(f"[bench] {stage.name}: " + (f"median {shown:.3f} s" if shown else
                                           res.get("error", "done")[:200])
              + f", peak RSS {res['peak_rss_mb']:.0f} MiB, {res['stage_wall_s']:.0f} s",
              flush=True)
    ratios, reasons, basis = compute_ratios(results["stages"])
    fractions, achieved = compute_peak_fraction(results["stages"])
    results["ratios"] = ratios
    results["ratio_null_reasons"] = reasons
    results["ratio_basis"] = basis
    results["peak_fraction"] = fractions
    results["achieved_gflops"] = achieved
    psnr, psnr_reason = int8_psnr(results["stages"])
    results["targets"] = check_targets(ratios, fractions, psnr)
    if psnr_reason:
        results["targets"]["tflite_int8_psnr_db"]["reason"] = psnr_reason
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    path = os.path.join(args.out_dir, f"{args.name}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=False)
        f.write("\n")
    from benchmarks.to_markdown import render
    with open(os.path.join(args.out_dir, f"{args.name}.md"), "w") as f:
        f.write(render(results))
    shutil.rmtree(log_dir, ignore_errors=True)
    print(f"[bench] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
