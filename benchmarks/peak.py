"""This machine's practical fp32 peak in TF and in torch: a large matmul and a 3x3 conv.

The generator's FLOP rate is judged against these ("peak_fraction" in the results), so they are
measured in the same run, with the same thread count, instead of quoting a data-sheet number.
Two kernels because convolutions and matmuls reach different rates: the peak is the faster one.

    python -m benchmarks.peak [--framework tf|torch] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

MATMUL_N = 2048
# The generator's dominant layer: a 256->256 3x3 conv on a 64x44 map (both of its halves: 512 out).
CONV_SHAPE = dict(batch=1, height=64, width=44, cin=256, cout=512, k=3)


def _median_seconds(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_flop(n=MATMUL_N):
    return 2.0 * n ** 3


def conv_flop(batch, height, width, cin, cout, k):
    return 2.0 * batch * height * width * cin * cout * k * k


def _result(matmul_s, conv_s, matmul_n, conv_shape):
    mm = matmul_flop(matmul_n) / matmul_s / 1e9
    cv = conv_flop(**conv_shape) / conv_s / 1e9
    return {"matmul_gflops": mm, "conv_gflops": cv, "peak_gflops": max(mm, cv),
            "matmul_n": matmul_n, "conv_shape": dict(conv_shape)}


def tf_peak(threads=2, repeats=5, matmul_n=MATMUL_N, conv_shape=None, inner=4):
    """Median GFLOP/s of `inner` matmuls / convs, one per tf.function call.

    One op per call: several identical ops in one graph would be merged by grappler.
    """
    import tensorflow as tf
    conv_shape = dict(CONV_SHAPE if conv_shape is None else conv_shape)
    a = tf.random.normal([matmul_n, matmul_n])
    b = tf.random.normal([matmul_n, matmul_n])
    s = conv_shape
    x = tf.random.normal([s["batch"], s["height"], s["width"], s["cin"]])
    w = tf.random.normal([s["k"], s["k"], s["cin"], s["cout"]])

    mm_fn = tf.function(lambda: tf.matmul(a, b))
    conv_fn = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))

    def mm():
        for _ in range(inner):
            mm_fn()

    def conv():
        for _ in range(inner):
            conv_fn()

    mm_s = _median_seconds(mm, repeats) / inner
    conv_s = _median_seconds(conv, repeats) / inner
    return _result(mm_s, conv_s, matmul_n, conv_shape)


def torch_peak(threads=2, repeats=5, matmul_n=MATMUL_N, conv_shape=None, inner=4):
    import torch
    torch.set_num_threads(threads)
    conv_shape = dict(CONV_SHAPE if conv_shape is None else conv_shape)
    a = torch.randn(matmul_n, matmul_n)
    b = torch.randn(matmul_n, matmul_n)
    s = conv_shape
    x = torch.randn(s["batch"], s["cin"], s["height"], s["width"])
    w = torch.randn(s["cout"], s["cin"], s["k"], s["k"])

    def mm():
        with torch.no_grad():
            for _ in range(inner):
                torch.matmul(a, b)

    def conv():
        with torch.no_grad():
            for _ in range(inner):
                torch.nn.functional.conv2d(x, w, padding=s["k"] // 2)

    mm_s = _median_seconds(mm, repeats) / inner
    conv_s = _median_seconds(conv, repeats) / inner
    return _result(mm_s, conv_s, matmul_n, conv_shape)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=("tf", "torch"), default="tf")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.framework == "tf":
        from benchmarks.run import configure_tf_threads
        configure_tf_threads(args.threads)
        print(json.dumps(tf_peak(args.threads, args.repeats), indent=2))
    else:
        print(json.dumps(torch_peak(args.threads, args.repeats), indent=2))


if __name__ == "__main__":
    main()
