"""Load benchmark of record for `pinet-tf serve`: concurrent gRPC clients on loopback.

    python -m benchmarks.load                       # both phases, writes results/load-cpu-2core.json
    python -m benchmarks.load --quick               # 5 s phases (a smoke run)

The server is `pinet-tf serve` in its own process (so its RSS is its own), on 127.0.0.1 and free
ports, serving a tiny export with random weights (the load, not the picture, is measured).
Phase `valid`: `--clients` clients (16) send batch-1 pose_transfer Predicts back to back for
`--duration` s (60). Phase `mixed`: `--bad-clients` (8) for `--bad-duration` s (30), where each
request is bad with probability `--bad-fraction` (0.2), cycling through kinds the server must
refuse with INVALID_ARGUMENT (wrong dtype, NaN keypoint, a 3 KB proto declaring 50000 images,
unknown dtype enum, parsing label 12). Every request has a deadline; a valid request that fails,
or a bad one answered with anything but INVALID_ARGUMENT, is an error. Reported per phase:
requests, errors, requests/s, p50/p99 latency of the valid requests, and the server's RSS
(VmRSS) at start and end plus its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "load-cpu-2core.json")


def _proc_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_tiny_export(base: str) -> str:
    """A random-weights tiny export at base/1."""
    import keras

    from pinet_tf.config import ModelConfig
    from pinet_tf.export.savedmodel import export_saved_model
    from pinet_tf.models import build_generator

    keras.utils.set_random_seed(0)
    cfg = ModelConfig.tiny()
    return export_saved_model(build_generator(cfg), cfg, base)


class ServerProcess:
    """`pinet-tf serve` on 127.0.0.1:<free port>; its stderr in `log_path`."""

    def __init__(self, base: str, log_path: str, max_batch: int = 4, start_timeout: float = 300):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
            TF_CPP_MIN_LOG_LEVEL="2")
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pinet_tf.cli", "serve", "--model-base-path", base,
             "--host", "127.0.0.1", "--port", "0", "--max-batch-size", str(max_batch)],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(start_timeout)
        if not line or not line[0].startswith("serving model"):
            self.stop()
            raise RuntimeError(f"server did not start within {start_timeout:.0f} s")
        self.port = int(line[0].split(" on ")[1].split(",")[0].rsplit(":", 1)[1])

    def rss_mb(self) -> float:
        return _proc_mb(self.proc.pid, "VmRSS")

    def peak_mb(self) -> float:
        return _proc_mb(self.proc.pid, "VmHWM")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._log.close()


def bad_requests(client, one: dict) -> list:
    """Requests the server must refuse with INVALID_ARGUMENT."""
    from tensorflow.core.framework import tensor_shape_pb2

    def edited(name, fn):
        request = client.predict_request(**one)
        fn(request.inputs[name])
        return request

    def huge(proto):
        proto.ClearField("tensor_content")
        proto.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in (50000, 64, 44, 3)]))
        proto.int_val.append(7)

    nan = dict(one, source_keypoints=one["source_keypoints"].copy())
    nan["source_keypoints"][0, 3, 0] = np.nan
    label = dict(one, source_parsing=one["source_parsing"].copy())
    label["source_parsing"][0, 5, 5] = 12
    return [client.predict_request(**dict(one, source_image=one["source_image"].astype(
                np.float32))),
            client.predict_request(**nan), edited("source_image", huge),
            edited("target_keypoints", lambda p: setattr(p, "dtype", 999)),
            client.predict_request(**label)]


def run_phase(server: ServerProcess, one: dict, clients: int, seconds: float,
              bad_fraction: float = 0.0, timeout: float = 60.0, seed: int = 0) -> dict:
    import grpc

    from pinet_tf.serving.client import PoseTransferClient

    address = f"127.0.0.1:{server.port}"
    latencies, errors, counts = [], [], {"valid": 0, "bad": 0}
    lock = threading.Lock()
    stop_at = [0.0]
    # The deadline is set by the barrier itself, before any thread is released.
    barrier = threading.Barrier(clients + 1, action=lambda: stop_at.__setitem__(
        0, time.monotonic() + seconds))

    def worker(index):
        rng = np.random.default_rng(seed + index)
        with PoseTransferClient(address, "pinet", timeout=timeout) as c:
            valid = c.predict_request(**one)
            bad = bad_requests(c, one)
            c.predict_response(valid)  # connect outside the timed part
            barrier.wait()
            n = 0
            while time.monotonic() < stop_at[0]:
                is_bad = rng.random() < bad_fraction
                request = bad[n % len(bad)] if is_bad else valid
                n += 1
                start = time.perf_counter()
                try:
                    c.predict_response(request)
                    problem = "a bad request was accepted" if is_bad else None
                except grpc.RpcError as e:
                    ok = is_bad and e.code() == grpc.StatusCode.INVALID_ARGUMENT
                    problem = None if ok else f"{e.code().name}: {e.details()}"
                elapsed = time.perf_counter() - start
                with lock:
                    counts["bad" if is_bad else "valid"] += 1
                    if not is_bad:
                        latencies.append(elapsed)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    rss_start = server.rss_mb()
    barrier.wait(timeout=300)
    start = stop_at[0] - seconds
    for t in threads:
        t.join(timeout=seconds + timeout + 30)
    wall = time.monotonic() - start
    hung = sum(t.is_alive() for t in threads)
    lat = np.asarray(latencies) if latencies else np.asarray([np.nan])
    return {"clients": clients, "seconds": seconds, "bad_fraction": bad_fraction,
            "requests": counts["valid"] + counts["bad"], "valid_requests": counts["valid"],
            "bad_requests": counts["bad"], "errors": len(errors) + hung,
            "error_examples": sorted(set(errors))[:5], "hung_clients": hung,
            "requests_per_s": (counts["valid"] + counts["bad"]) / wall,
            "valid_p50_ms": float(np.percentile(lat, 50) * 1e3),
            "valid_p99_ms": float(np.percentile(lat, 99) * 1e3),
            "server_rss_start_mb": rss_start, "server_rss_end_mb": server.rss_mb(),
            "server_peak_rss_mb": server.peak_mb()}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, ROOT)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--bad-clients", type=int, default=8)
    p.add_argument("--bad-duration", type=float, default=30.0)
    p.add_argument("--bad-fraction", type=float, default=0.2)
    p.add_argument("--quick", action="store_true", help="5 s phases")
    p.add_argument("--conditions", default="", help="free text stored with the results")
    p.add_argument("--out", default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if args.quick:
        args.duration = args.bad_duration = 5.0

    from pinet_tf.export.tflite import synthetic_inputs
    from pinet_tf.utils.atomic import write_json

    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "pinet")
        path = make_tiny_export(base)
        from pinet_tf.export.savedmodel import load_export_config
        one = synthetic_inputs(load_export_config(path), 1, seed=5)[0]
        server = ServerProcess(base, os.path.join(tmp, "server.log"))
        try:
            phases = {"valid": run_phase(server, one, args.clients, args.duration),
                      "mixed": run_phase(server, one, args.bad_clients, args.bad_duration,
                                         args.bad_fraction, seed=100)}
        finally:
            server.stop()
            log = open(os.path.join(tmp, "server.log")).read()
    result = {"benchmark": "load", "model": "tiny (64x44), random weights, batch 1",
              "server": "pinet-tf serve --host 127.0.0.1 (subprocess), default workers",
              "cpus": os.cpu_count(), "conditions": args.conditions,
              "tracebacks_in_server_log": log.count("Traceback"), "phases": phases}
    print(f"{'phase':>6} {'clients':>7} {'s':>4} {'requests':>8} {'errors':>6} {'req/s':>7} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'RSS start':>9} {'RSS end':>8} {'peak':>6}")
    for name, r in phases.items():
        print(f"{name:>6} {r['clients']:>7} {r['seconds']:>4.0f} {r['requests']:>8} "
              f"{r['errors']:>6} {r['requests_per_s']:>7.1f} {r['valid_p50_ms']:>7.1f} "
              f"{r['valid_p99_ms']:>7.1f} {r['server_rss_start_mb']:>9.0f} "
              f"{r['server_rss_end_mb']:>8.0f} {r['server_peak_rss_mb']:>6.0f}")
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0 if all(r["errors"] == 0 for r in phases.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
