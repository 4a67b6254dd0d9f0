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

Stages (``--only`` / ``--stages`` take stage names or the group names in brackets; the list and
what each runs is `benchmarks/registry.py`, the measurements `benchmarks/stages/`):
  [peak]      peak_tf, peak_torch           large matmul / conv GFLOP/s (stages/peak.py)
  [forward]   forward_{keras,savedmodel,torch}_b{1,8}   generator forward, eval mode
  [train]     train_tf_b4, train_torch_b4   G + both Ds + VGG relu1_2 perceptual, LSGAN, Adam
  [tflite]    tflite                        fp32/fp16/int8 size, latency, PSNR (tflite.py)
  [data]      data                          tf.data examples/s (stages/data.py)
  [variants]  forward_keras_b{1,8}_xla, forward_keras_b1_onednn_off, forward_keras_b1_bnfold,
              forward_savedmodel_b8_xla, train_tf_b4_xla, forward_ab_b{1,8}   the optimisations
              tried (benchmarks/README.md)
Torch stages are skipped with a reason when torch is not installed (or with ``--no-torch``); the
JSON keeps the same keys, with nulls and that reason.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks import analysis, registry
from benchmarks.common import (RESULTS_DIR, ROOT, configure_tf_threads, configure_torch_threads,
                               machine_info, model_config, read_json, write_json)
from benchmarks.to_markdown import render
from pinet_tf.utils.atomic import write_text


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                description=__doc__.splitlines()[0])
    p.add_argument("--name", default="local", help="results file name (results/<name>.json)")
    p.add_argument("--out-dir", default=RESULTS_DIR)
    p.add_argument("--config", default="official", help="ModelConfig preset (official)")
    p.add_argument("--size", default=None, help="HxW override, e.g. 64x44")
    p.add_argument("--only", "--stages", dest="only", default=None,
                   help="comma-separated stages or groups")
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


def plan(args) -> list:
    """The stages this run will run (raises ValueError naming an unknown stage or group)."""
    stages = registry.all_stages(args.mixed_precision, args.trained_run)
    return registry.select_stages(stages, args.only)


# -- parent side: run each stage in a child process and collect -----------------------------

def run_stage(stage: registry.Stage, common: dict, timeout_s: float, log_dir: str) -> dict:
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
    deadline = t0 + timeout_s
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
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
    result = {"stage_wall_s": time.perf_counter() - t0, "peak_rss_mb": rusage.ru_maxrss / 1024.0,
              "env": stage.env or None, "framework": stage.framework}
    try:
        result.update(read_json(out_path))
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
    measure = registry.lookup(kind)
    framework = registry.KINDS[kind].framework
    try:
        if framework == "torch":
            configure_torch_threads(params["threads"])
        else:
            configure_tf_threads(params["threads"])
        result = measure(params)
    except ImportError as e:
        result = {"error": f"not available: {e}"}
    if framework == "tf" and "error" not in result:
        import tensorflow as tf
        result.setdefault("gpus", len(tf.config.list_physical_devices("GPU")))
    write_json(out_path, result)
    return 0


# -- the run -----------------------------------------------------------------------------------

def analyse(results: dict) -> None:
    """Add the FLOP rates to the stages, and the ratios, peak fractions and targets (in place)."""
    stages = results["stages"]
    analysis.annotate_flop_rates(stages)
    ratios, reasons, basis = analysis.compute_ratios(stages)
    fractions, achieved = analysis.compute_peak_fraction(stages)
    results["ratios"] = ratios
    results["ratio_null_reasons"] = reasons
    results["ratio_basis"] = basis
    results["peak_fraction"] = fractions
    results["achieved_gflops"] = achieved
    psnr, psnr_reason = analysis.int8_psnr(stages)
    results["targets"] = analysis.check_targets(ratios, fractions, psnr)
    if psnr_reason:
        results["targets"]["tflite_int8_psnr_db"]["reason"] = psnr_reason


def _report(name: str, res: dict, stages: dict) -> str:
    shown = res.get("median_s")
    rates = analysis.stage_rates(stages, res)  # the peaks run first
    rate = (f", {rates['achieved_gflops']:.0f} GFLOP/s" if rates else "")
    if rates.get("peak_fraction") is not None:
        rate += f" ({rates['peak_fraction']:.2f} of {rates['peak_stage']})"
    return (f"[bench] {name}: " + (f"median {shown:.3f} s" if shown else
                                   res.get("error", "done")[:200])
            + f"{rate}, peak RSS {res['peak_rss_mb']:.0f} MiB, {res['stage_wall_s']:.0f} s")


def run(args, stages: list) -> int:
    """Run `stages` (from `plan`), write `<name>.json` and `<name>.md`; returns the exit code."""
    repeats = args.repeats or (1 if args.quick else 3)
    torch_ok = importlib.util.find_spec("torch") is not None and not args.no_torch
    torch_reason = "--no-torch given" if args.no_torch else "torch is not installed " \
        "(pip install -e '.[torch]')"
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
    try:
        for stage in stages:
            if stage.torch and not torch_ok:
                results["stages"][stage.name] = {"skipped": torch_reason}
                print(f"[bench] {stage.name}: skipped ({torch_reason})", flush=True)
                continue
            print(f"[bench] {stage.name} ...", flush=True)
            res = run_stage(stage, common, args.stage_timeout, log_dir)
            results["stages"][stage.name] = res
            print(_report(stage.name, res, results["stages"]), flush=True)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    analyse(results)
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    path = os.path.join(args.out_dir, f"{args.name}.json")
    write_json(path, results)
    write_text(os.path.join(args.out_dir, f"{args.name}.md"), render(results))
    print(f"[bench] wrote {path}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, json.loads(args.child_params), args.child_out)
    try:  # refuse a bad --config, --size or --only before any work: one line, nothing written
        model_config(args.config, args.size)
        stages = plan(args)
    except ValueError as e:
        print(f"python -m benchmarks.run: error: {e}", file=sys.stderr)
        return 2
    return run(args, stages)


if __name__ == "__main__":
    sys.exit(main())
