"""The held-out curve of the authors' training step and of ours, from one state on the same batches.

    python -m benchmarks.reference_curve --records RECORDS --steps 1000 \\
        --out benchmarks/results/reference_curve.json --plot docs/images/reference_curve.png

Issue 24 item 4: a two-step parity test (`tests/training/test_parity.py`) cannot see a
difference that only shows over many steps. Here, per seed, one process holds both sides:

* the reference: our PyTorch port of the authors' networks (`tests/reference/pinet_torch.py`)
  with the authors' initial state (`pinet_torch.authors_init_`) and their training iteration
  (`tests/reference/official_step.py`, torch Adam);
* pinet-tf: the trainer `pinet-tf train --schedule official` builds
  (`pinet_tf.training.run.build_trainer`) holding the same state (the torch state dicts imported
  with `pinet_tf.export.torch_import`), trained by `fit` (the per-phase traced step).

Both run in float32 with the official losses (parsing CE 1, L1 1, LSGAN weight 5, no decay within
the run) except the perceptual term, off on both sides (weight 0: no VGG19 weights offline), and
D dropout off (the two frameworks cannot draw the same masks). The model is the tiny preset with
the official feed (G_p's raw logits into G_i, as the authors' network does). Each chunk of
`--every` steps reads its batches once from `make_dataset(RECORDS, "train", training=True,
seed=SEED, deterministic=True)` and feeds the same arrays to both sides. Seed = torch's initial
weights and the data order. After every chunk both models are measured on the same held-out pairs
by the training run's own curve code (`pinet_tf.training.callbacks.AppearanceCurve.measure`:
inference mode, full G_p -> G_i path, `float_to_uint8`, person-region L1 in 0..255 and
paint-by-parsing with the model's own parsing).

The JSON holds every setting, per run the curve, the mean losses of each chunk, the wall time and
the digest of the batches fed, and per learning rate the comparison (`compare`). `--merge`
combines result files of separate processes (e.g. one per seed, run in parallel) and redraws.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import (configure_tf_threads, configure_torch_threads, machine_info,
                               read_json, torch_reference, write_json)

#: The batch keys the training step reads (both sides get exactly these arrays).
FEED_KEYS = ("source_image", "source_parsing_onehot", "source_heatmaps", "target_heatmaps",
             "target_image", "target_parsing_onehot")
#: Per-chunk mean losses, our names; the reference's names where they differ.
LOSSES = ("parsing_ce", "l1", "g_gan", "d_pose", "d_appearance", "g_total")
TORCH_NAMES = {"d_pose": "d_pb", "d_appearance": "d_pp"}
SIDES = ("torch", "pinet_tf")
CURVES = ("model", "paint_by_parsing")


def model_config(blocks: int = 1):
    """The tiny preset (64x44, ngf 16, ndf 16) with the authors' feed (G_p logits into G_i) and
    D dropout off: what the torch port computes."""
    from pinet_tf.config import ModelConfig

    return dataclasses.replace(ModelConfig.tiny(), name="tiny-official-feed",
                               parsing_feed="logits", discriminator_dropout=0.0,
                               discriminator_blocks=blocks)


def train_config(args, lr, seed):
    from pinet_tf.training.config import TrainConfig

    return TrainConfig(schedule="official", steps=(args.steps,), batch_size=args.batch,
                       learning_rate=lr, decay_steps=0, perceptual_weight=0.0,
                       curve_every=args.every, curve_pairs=args.pairs, seed=seed)


class TorchGenerator:
    """The reference netG behind the callable `AppearanceCurve.measure` calls: element dict in,
    {"image", "parsing_logits"} NHWC out; eval mode (BatchNorm running statistics), no grad."""

    def __init__(self, netG):
        self.netG = netG

    def __call__(self, batch, training=False):
        import torch

        S = torch_reference("official_step")
        t = S.torch_batch(batch)
        self.netG.eval()
        with torch.no_grad():
            image, parse = self.netG([t["P1"], torch.cat([t["KP1"], t["KP2"]], 1),
                                      t["SPL1_onehot"], t["SPL2_onehot"]])
        nhwc = lambda x: np.transpose(x.numpy(), (0, 2, 3, 1))  # noqa: E731
        return {"image": nhwc(image), "parsing_logits": nhwc(parse)}


def reference_nets(cfg, seed):
    """(netG, netD_PB, netD_PP) at the authors' initial state drawn with torch seed `seed`."""
    import torch

    R = torch_reference("pinet_torch")
    torch.manual_seed(seed)
    netG = R.authors_init_(R.build_netG(cfg.ngf))
    return (netG, R.build_netD_PB(cfg.ndf, cfg.discriminator_blocks, dropout=0.0),
            R.build_netD_PP(cfg.ndf, cfg.discriminator_blocks, dropout=0.0))


def keras_trainer(cfg, train_cfg, nets):
    """The official-schedule trainer holding the reference nets' state."""
    import keras

    from pinet_tf.export.torch_import import load_torch_discriminator, load_torch_generator
    from pinet_tf.training.run import build_trainer

    keras.utils.set_random_seed(train_cfg.seed)
    trainer = build_trainer(cfg, train_cfg)
    state = lambda net: {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}  # noqa
    netG, netD_PB, netD_PP = nets
    load_torch_generator(trainer.generator, state(netG))
    load_torch_discriminator(trainer.pose_discriminator, state(netD_PB), cfg)
    load_torch_discriminator(trainer.appearance_discriminator, state(netD_PP), cfg)
    return trainer


def _chunk_dataset(chunk):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices({k: np.stack([b[k] for b in chunk])
                                               for k in FEED_KEYS})


def _point(step, measured):
    return {"step": step, **{k: measured[k] for k in CURVES}}


def run_seed(args, cfg, lr, seed, work, progress=None):
    """Both sides for one (lr, seed): returns (two run dicts, held-out fixed baselines, the
    TrainConfig). `progress(runs, baselines, train_cfg)` is called after every chunk with the
    runs so far."""
    from pinet_tf import datasets
    from pinet_tf.training.run import appearance_curve

    S = torch_reference("official_step")
    train_cfg = train_config(args, lr, seed)
    nets = reference_nets(cfg, seed)
    trainer = keras_trainer(cfg, train_cfg, nets)
    optimizers = S.make_optimizers(*nets, lr=lr)
    ours = appearance_curve(args.records, "test", cfg, train_cfg, work)
    ours.set_model(trainer)
    theirs = copy.copy(ours)
    theirs.set_model(TorchGenerator(nets[0]))
    curves = {side: [_point(0, c.measure())] for side, c in zip(SIDES, (theirs, ours))}
    losses = {side: [] for side in SIDES}
    seconds = dict.fromkeys(SIDES, 0.0)
    digest = hashlib.sha256()
    stream = iter(datasets.make_dataset(args.records, "train", cfg, args.batch, training=True,
                                        repeat=True, seed=seed, deterministic=True))
    done = 0
    while done < args.steps:
        n = min(args.every, args.steps - done)
        chunk = [_numpy(next(stream)) for _ in range(n)]
        for b in chunk:
            for k in FEED_KEYS:
                digest.update(b[k].tobytes())
        start = time.perf_counter()
        step_losses = [S.official_step(*nets, optimizers, None, S.torch_batch(b)) for b in chunk]
        seconds["torch"] += time.perf_counter() - start
        start = time.perf_counter()
        history = trainer.fit(_chunk_dataset(chunk), epochs=1, steps_per_epoch=n, verbose=0,
                              shuffle=False)
        seconds["pinet_tf"] += time.perf_counter() - start
        done += n
        span = [done - n, done]
        losses["torch"].append({"steps": span, **{
            k: float(np.mean([s[TORCH_NAMES.get(k, k)] for s in step_losses])) for k in LOSSES}})
        losses["pinet_tf"].append({"steps": span, **{
            k: float(history.history[k][-1]) for k in LOSSES}})
        for side, c in zip(SIDES, (theirs, ours)):
            curves[side].append(_point(done, c.measure()))
        if progress:
            progress(_runs(lr, seed, curves, losses, seconds, digest), _fixed(ours), train_cfg)
        print(f"lr {lr:g} seed {seed} step {done}: person L1 torch "
              f"{curves['torch'][-1]['model']:.2f}, pinet-tf {curves['pinet_tf'][-1]['model']:.2f}"
              f" (torch {seconds['torch']:.0f} s, pinet-tf {seconds['pinet_tf']:.0f} s)",
              flush=True)
    return _runs(lr, seed, curves, losses, seconds, digest), _fixed(ours), train_cfg


def _runs(lr, seed, curves, losses, seconds, digest):
    return [{"lr": lr, "seed": seed, "side": side, "curve": list(curves[side]),
             "losses": list(losses[side]), "train_seconds": round(seconds[side], 2),
             "batches_sha256": digest.hexdigest()} for side in SIDES]


def _fixed(curve):
    """The held-out baselines that do not depend on the model, and the number of pairs."""
    return {**{k: curve.fixed[k] for k in sorted(curve.fixed)}, "held_out_pairs": curve.pairs}


def _numpy(element):
    return {k: element[k].numpy() for k in FEED_KEYS}


# -- comparison ----------------------------------------------------------------------------
def _stats(values):
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "max": float(values.max())}


def compare(runs, key="model") -> dict:
    """Per learning rate, up to the last step all its runs reached (`compared_to_step`): the
    final value of every run, and over the curve points after step 0
    (mean and max): the torch seed spread |T_0 - T_1| (the run-to-run noise), ours |K_0 - K_1|,
    the same-seed gap |K_s - T_s| (same initial state, same batches), the cross gap |K_s - T_s'|
    (s != s'), the gap of the seed means. `within_noise`: the same-seed gap's mean and max are
    at most the torch seed spread's."""
    out = {}
    for lr in sorted({r["lr"] for r in runs}):
        curve = {(r["side"], r["seed"]): np.array([p[key] for p in r["curve"]])
                 for r in runs if r["lr"] == lr}
        n = min(len(c) for c in curve.values())  # runs cut short: their common points
        curve = {k: c[:n] for k, c in curve.items()}
        seeds = sorted({s for _, s in curve})
        entry = {"compared_to_step": int(next(r for r in runs if r["lr"] == lr)["curve"][n - 1]
                                         ["step"]),
                 "final": {f"{side}_seed{s}": float(curve[side, s][-1])
                           for side in SIDES for s in seeds if (side, s) in curve},
                 "step0_gap": max(abs(float(curve["pinet_tf", s][0] - curve["torch", s][0]))
                                  for s in seeds)}
        out[f"{lr:g}"] = entry
        if n < 2:  # no point after step 0 yet
            continue
        later = {k: v[1:] for k, v in curve.items()}
        entry["same_seed_gap"] = _stats(np.concatenate([np.abs(later["pinet_tf", s]
                                                               - later["torch", s])
                                                        for s in seeds]))
        if len(seeds) >= 2:
            a, b = seeds[:2]
            entry["torch_seed_spread"] = _stats(np.abs(later["torch", a] - later["torch", b]))
            entry["pinet_tf_seed_spread"] = _stats(np.abs(later["pinet_tf", a]
                                                          - later["pinet_tf", b]))
            entry["cross_gap"] = _stats(np.concatenate([
                np.abs(later["pinet_tf", a] - later["torch", b]),
                np.abs(later["pinet_tf", b] - later["torch", a])]))
            mean = lambda side: np.mean([later[side, s] for s in seeds], axis=0)  # noqa: E731
            entry["seed_mean_gap"] = _stats(np.abs(mean("pinet_tf") - mean("torch")))
            noise, gap = entry["torch_seed_spread"], entry["same_seed_gap"]
            entry["within_noise"] = bool(gap["mean"] <= noise["mean"]
                                         and gap["max"] <= noise["max"])
    return out


def summarise(results) -> dict:
    """The comparison of the model's curves and of paint-by-parsing with each model's own
    parsing; each run gets `steps_reached` (a cut run's last point)."""
    for r in results["runs"]:
        r["steps_reached"] = r["curve"][-1]["step"]
    results["comparison"] = {key: compare(results["runs"], key) for key in CURVES}
    return results


# -- command line ------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", help="records directory (pinet-tf make-tfrecords) with a test split")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=50, help="held-out point every N steps")
    p.add_argument("--batch", type=int, default=6, help="batch size (the authors': 6)")
    p.add_argument("--pairs", type=int, default=60, help="held-out pairs (first N of the split)")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--lrs", default="2e-4", help="comma-separated learning rates")
    p.add_argument("--threads", type=int, default=1, help="threads of each framework")
    p.add_argument("--out", default=None, help="results JSON")
    p.add_argument("--plot", default=None, help="PNG of the curves")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="combine these results files (no training) into --out / --plot")
    args = p.parse_args(argv)
    if args.merge is None and not args.records:
        p.error("--records is required (unless --merge)")
    if min(args.steps, args.every, args.batch, args.pairs, args.threads) < 1:
        p.error("--steps, --every, --batch, --pairs and --threads must be >= 1")
    return args


def merge(paths) -> dict:
    parts = [read_json(p) for p in paths]
    merged = {k: v for k, v in parts[0].items() if k not in ("runs", "comparison")}
    merged["merged_from"] = [os.path.basename(p) for p in paths]
    merged["settings"]["seeds"] = sorted({s for p in parts for s in p["settings"]["seeds"]})
    merged["settings"]["lrs"] = sorted({x for p in parts for x in p["settings"]["lrs"]})
    merged["settings"]["train_configs"] = {k: v for p in parts
                                           for k, v in p["settings"]["train_configs"].items()}
    merged["runs"] = [r for p in parts for r in p["runs"]]
    return summarise(merged)


def measure(args) -> dict:
    from pinet_tf.datasets import tfrecords

    configure_tf_threads(args.threads)
    configure_torch_threads(args.threads)
    import torch

    torch.set_flush_denormal(True)  # as TF's CPU kernels do (denormals also slow torch 5x)
    cfg = model_config()
    seeds = [int(s) for s in args.seeds.split(",")]
    lrs = [float(x) for x in args.lrs.split(",")]
    manifest = tfrecords.read_manifest(args.records, verify="size")
    results = {"benchmark": "reference_curve", "command": " ".join(["python -m",
               "benchmarks.reference_curve", *sys.argv[1:]]),
               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine_info(True), "settings": {
                   "records": {"path": args.records, "splits": {
                       s: {"pairs": v["pairs"], "sha256": [x["sha256"] for x in v["shards"]]}
                       for s, v in manifest["splits"].items()}},
                   "train_data": "make_dataset(records, 'train', cfg, batch, training=True, "
                                 "repeat=True, seed=SEED, deterministic=True), no flip",
                   "held_out": f"the first {args.pairs} pairs of the test split in record order",
                   "steps": args.steps, "every": args.every, "batch": args.batch,
                   "seeds": seeds, "lrs": lrs, "threads": args.threads, "dtype": "float32",
                   "model_config": cfg.to_dict(),
                   "torch": {"nets": "tests/reference/pinet_torch.py build_netG(ngf), "
                                     "build_netD_PB/PP(ndf, blocks, dropout=0)",
                             "initial_state": "authors_init_ (Kaiming-normal fan_in convs, BN "
                                              "weight N(1, 0.02), bias 0, attention gamma 0); "
                                              "D: SN weight Kaiming-normal, bias 0; torch seed "
                                              "= SEED; imported into Keras",
                             "step": "tests/reference/official_step.py official_step, vgg=None "
                                     "(no perceptual term), Adam(lr, (0.5, 0.999), eps 1e-8)",
                             "flush_denormal": True},
                   "losses": {"parsing_ce": 1.0, "l1": 1.0, "perceptual": 0.0, "gan": 5.0,
                              "gan_kind": "lsgan", "parsing_l1": 0.0},
                   "discriminator_dropout": 0.0, "lr_decay": "none (constant lr)",
                   "train_configs": {}},
               "baselines": None, "runs": []}
    done = []

    def record(runs, baselines, train_cfg):
        results["settings"]["train_configs"][f"{train_cfg.learning_rate:g}"] = {
            k: v for k, v in train_cfg.to_dict().items() if k != "seed"}
        results["baselines"] = baselines
        results["runs"] = done + runs
        if args.out:  # a partial file after every chunk: a cut run keeps its curve so far
            write_json(args.out, summarise(results))

    for lr in lrs:
        for seed in seeds:
            with tempfile.TemporaryDirectory() as work:
                runs, baselines, train_cfg = run_seed(args, cfg, lr, seed, work, record)
            record(runs, baselines, train_cfg)
            done += runs
    return summarise(results)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    results = merge(args.merge) if args.merge else measure(args)
    if args.out:
        write_json(args.out, results)
    if args.plot:
        from benchmarks.curve_plot import plot_reference_curves

        plot_reference_curves(results, args.plot)
    for key, by_lr in results["comparison"].items():
        for lr, c in by_lr.items():
            print(f"{key} lr {lr}: final {c['final']}; same-seed gap {c['same_seed_gap']}; "
                  f"torch seed spread {c.get('torch_seed_spread')}; within noise "
                  f"{c.get('within_noise')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
