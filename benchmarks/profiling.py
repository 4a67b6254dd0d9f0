"""Per-op time tables (`--profile`) from tf.profiler and torch.profiler: [[op, ms, %], ...]."""

from __future__ import annotations

import glob
import os


def summarise_xplane(logdir: str, top: int = 12) -> list:
    """Op type -> total time from a `tf.profiler` trace: [[op, ms, percent], ...] (largest first).

    Sums the duration of every TF op event on the executor threads of the host plane; ops on
    parallel threads overlap, so the percentages are of summed op time, not of wall time.
    """
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
    """Run `fn()` once under tf.profiler (trace written below `logdir`); its op table."""
    import tensorflow as tf
    tf.profiler.experimental.start(logdir)
    try:
        fn()
    finally:
        tf.profiler.experimental.stop()
    return summarise_xplane(logdir)


def torch_profile(fn, top: int = 12) -> list:
    """Run `fn()` once under torch.profiler; its op table (self CPU time)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [e for e in prof.key_averages() if not e.key.startswith("ProfilerStep")]
    total = sum(e.self_cpu_time_total for e in events) or 1
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [[e.key, e.self_cpu_time_total / 1e3, 100.0 * e.self_cpu_time_total / total]
            for e in events[:top]]
