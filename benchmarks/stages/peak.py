"""This machine's practical fp32 peak in TF and in torch: a large matmul and a 3x3 conv.

Every other stage's GFLOP/s is judged against these (`peak_fraction` in the results), so they are
measured in the same run, with the same thread count, instead of quoting a data-sheet number.
Two kernels because convolutions and matmuls reach different rates: the peak is the faster one.

    python -m benchmarks.stages.peak [--framework tf|torch] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json

from benchmarks.common import (CONV_SHAPE, MATMUL_N, configure_tf_threads, configure_torch_threads,
                               conv_flop, matmul_flop, time_calls)


def _measure(matmul_once, conv_once, repeats, inner, matmul_n, conv_shape) -> dict:
    """GFLOP/s of `inner` back-to-back calls of each kernel (median of `repeats`)."""
    def per_call(once):
        return time_calls(lambda: [once() for _ in range(inner)], repeats)["median_s"] / inner

    mm = matmul_flop(matmul_n) / per_call(matmul_once) / 1e9
    cv = conv_flop(**conv_shape) / per_call(conv_once) / 1e9
    return {"matmul_gflops": mm, "conv_gflops": cv, "peak_gflops": max(mm, cv),
            "matmul_n": matmul_n, "conv_shape": dict(conv_shape)}


def tf_peak(repeats=5, matmul_n=MATMUL_N, conv_shape=None, inner=4) -> dict:
    """One op per tf.function call: identical ops in one graph would be merged by grappler."""
    import tensorflow as tf
    s = dict(CONV_SHAPE if conv_shape is None else conv_shape)
    a = tf.random.normal([matmul_n, matmul_n])
    b = tf.random.normal([matmul_n, matmul_n])
    x = tf.random.normal([s["batch"], s["height"], s["width"], s["cin"]])
    w = tf.random.normal([s["k"], s["k"], s["cin"], s["cout"]])
    mm = tf.function(lambda: tf.matmul(a, b))
    conv = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    return _measure(mm, conv, repeats, inner, matmul_n, s)


def torch_peak(repeats=5, matmul_n=MATMUL_N, conv_shape=None, inner=4) -> dict:
    import torch
    s = dict(CONV_SHAPE if conv_shape is None else conv_shape)
    a = torch.randn(matmul_n, matmul_n)
    b = torch.randn(matmul_n, matmul_n)
    x = torch.randn(s["batch"], s["cin"], s["height"], s["width"])
    w = torch.randn(s["cout"], s["cin"], s["k"], s["k"])
    with torch.no_grad():
        return _measure(lambda: torch.matmul(a, b),
                        lambda: torch.nn.functional.conv2d(x, w, padding=s["k"] // 2),
                        repeats, inner, matmul_n, s)


def run_tf(p):
    return tf_peak(max(3, p["repeats"]))


def run_torch(p):
    return torch_peak(max(3, p["repeats"]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=("tf", "torch"), default="tf")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.framework == "tf":
        configure_tf_threads(args.threads)
        print(json.dumps(tf_peak(args.repeats), indent=2))
    else:
        configure_torch_threads(args.threads)
        print(json.dumps(torch_peak(args.repeats), indent=2))


if __name__ == "__main__":
    main()
