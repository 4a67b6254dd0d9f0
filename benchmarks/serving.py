"""gRPC serving throughput and latency at 1 and 8 concurrent clients.

    python -m benchmarks.serving                                  # tiny config, random weights
    python -m benchmarks.serving --config official --requests 10  # the real size (slow on CPU)
    python -m benchmarks.serving --base BASE                      # an existing export

Starts `pinet_tf.serving.ModelServer` in this process on a free loopback port, then each client
(its own channel, in its own thread) sends `--requests` batch-1 pose_transfer Predicts back to
back. Reports requests/s over the wall time of the whole round and p50/p99 per-request latency,
plus the direct SavedModel call for comparison (the server's overhead). The default is the tiny
config: at 256x176 a CPU request takes ~2 s and the round measures the model, not the server.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks.common import export_model, script_parser, time_calls, write_json


def _percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def measure_serving(base: str, clients=(1, 8), requests: int = 50) -> dict:
    import tensorflow as tf

    from pinet_tf.export.savedmodel import list_versions, load_export_config
    from pinet_tf.export.tflite import synthetic_inputs
    from pinet_tf.serving.client import PoseTransferClient
    from pinet_tf.serving.server import ModelServer

    version = list_versions(base)[-1]
    cfg = load_export_config(os.path.join(base, str(version)))
    one = synthetic_inputs(cfg, 1, seed=5)[0]
    loaded = tf.saved_model.load(os.path.join(base, str(version)))
    fn = loaded.signatures["serving_default"]
    direct = time_calls(lambda: fn(**one), min(requests, 20))
    result = {"config": cfg.name, "image_size": list(cfg.image_size), "requests_per_client":
              requests, "direct_savedmodel_p50_s": direct["median_s"], "rounds": {}}
    server = ModelServer(base, host="127.0.0.1", port=0, max_workers=max(clients),
                         max_concurrent_rpcs=4 * max(clients)).start()
    try:
        address = f"127.0.0.1:{server.port}"
        with PoseTransferClient(address, server.model_name) as warm:
            warm.predict(**one)
        for n in clients:
            latencies, errors = [], []
            lock = threading.Lock()

            def worker():
                with PoseTransferClient(address, server.model_name, timeout=600) as c:
                    c.predict(**one)  # connect outside the timed part
                    barrier.wait()
                    for _ in range(requests):
                        start = time.perf_counter()
                        try:
                            c.predict(**one)
                        except Exception as e:
                            errors.append(repr(e))
                        with lock:
                            latencies.append(time.perf_counter() - start)

            barrier = threading.Barrier(n + 1)
            threads = [threading.Thread(target=worker) for _ in range(n)]
            for t in threads:
                t.start()
            barrier.wait()
            start = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            result["rounds"][str(n)] = {
                "clients": n, "requests": len(latencies), "errors": len(errors),
                "requests_per_s": len(latencies) / wall, "p50_s": _percentile(latencies, 50),
                "p99_s": _percentile(latencies, 99), "wall_s": wall}
    finally:
        server.stop(grace=1.0)
    return result


def main(argv=None) -> int:
    p = script_parser(__doc__, run_help="RUN_DIR to export (default: random weights)")
    from pinet_tf.config import ModelConfig

    p.add_argument("--base", help="an existing model base path (default: export one)")
    p.add_argument("--requests", type=int, default=50, help="requests per client")
    p.add_argument("--clients", default="1,8")
    args = p.parse_args(argv)
    clients = tuple(int(c) for c in args.clients.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base
        if base is None:
            base = os.path.join(tmp, "pinet")
            export_model(ModelConfig.preset(args.config), base, args.run)
        result = measure_serving(base, clients, args.requests)
    print(f"{result['config']} {result['image_size']}: direct SavedModel call p50 "
          f"{result['direct_savedmodel_p50_s'] * 1e3:.1f} ms")
    print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in result["rounds"].values():
        print(f"{r['clients']:>7} {r['requests_per_s']:8.1f} {r['p50_s'] * 1e3:8.1f} "
              f"{r['p99_s'] * 1e3:8.1f} {r['errors']:>6}")
    if args.out:
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
