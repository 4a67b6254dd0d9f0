"""Render a benchmark results JSON (benchmarks/run.py) as Markdown tables.

    python -m benchmarks.to_markdown benchmarks/results/NAME.json            # print the tables
    python -m benchmarks.to_markdown benchmarks/results/NAME.json --readme FILE.md

With `--readme FILE` the text between the markers `<!-- perf-table:start -->` and
`<!-- perf-table:end -->` in FILE is replaced. The documentation's performance page
(docs/results/performance.md) does not need it: the site's build renders these tables from the
committed results file (docs/hooks.py, `perf_tables`), so they are never typed by hand.

Values a results file does not have are `–` in the columns every results file has, and blank in
the FLOP columns (GFLOP, GFLOP/s, of peak) that files written before they existed lack.
"""

from __future__ import annotations

import argparse
import sys

START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"


def _s(v, unit=" s", digits=2):
    return "–" if v is None else f"{v:.{digits}f}{unit}"


def _r(v):
    return "–" if v is None else f"{v:.2f}"


def _blank(v, digits=0):
    return "" if v is None else f"{v:.{digits}f}"


def _rate_cells(st: dict) -> str:
    """Achieved GFLOP/s | fraction of the measured peak (blank where unknown)."""
    return f"{_blank(st.get('achieved_gflops'))} | {_blank(st.get('peak_fraction'), 2)}"


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: str, rows: list) -> str:
    """A Markdown table (header cells separated by " | "), or "" when there are no rows."""
    if not rows:
        return ""
    rule = "|" + "---|" * (header.count(" | ") + 1)
    return "\n".join([f"| {header} |", rule] + rows)


def _met(t):
    if not t or t.get("met") is None:
        return "n/a"
    return "yes" if t["met"] else "**no**"


def _median(stages, name):
    return (stages.get(name) or {}).get("median_s")


def _rss(stages, name):
    st = stages.get(name) or {}
    return st.get("peak_rss_mb") if st.get("median_s") or st.get("variants") else None


def summary_table(res: dict) -> str:
    """The headline table: ours vs PyTorch (same run), ratio, target, met."""
    st, ratios, targets = res.get("stages", {}), res.get("ratios", {}), res.get("targets", {})
    tfl = (st.get("tflite") or {}).get("variants") or {}
    fastest = min(((k, v) for k, v in tfl.items() if isinstance(v, dict) and v.get("median_s")),
                  key=lambda kv: kv[1]["median_s"], default=(None, {}))
    data = st.get("data") or {}
    train = st.get("train_tf_b4") or {}
    train_eps = train["batch"] / train["median_s"] if train.get("median_s") else None
    rows = [
        ("generator forward, batch 1 (SavedModel)", _s(_median(st, "forward_savedmodel_b1")),
         _s(_median(st, "forward_torch_b1")), "forward_b1"),
        ("generator forward, batch 1 (Keras model)", _s(_median(st, "forward_keras_b1")),
         _s(_median(st, "forward_torch_b1")), None),
        ("generator forward, batch 8 (SavedModel)", _s(_median(st, "forward_savedmodel_b8")),
         _s(_median(st, "forward_torch_b8")), "forward_b8"),
        ("generator forward, batch 8 (Keras model)", _s(_median(st, "forward_keras_b8")),
         _s(_median(st, "forward_torch_b8")), None),
        ("training step, batch 4 (G + 2 D + VGG)", _s(_median(st, "train_tf_b4")),
         _s(_median(st, "train_torch_b4")), "train_step_b4"),
        ("training step, batch 4, mixed_float16 (ratio: mixed / TF fp32)",
         _s(_median(st, "train_tf_b4_mixed")), "–", _ratio_values(
             _median(st, "train_tf_b4_mixed"), _median(st, "train_tf_b4")))
        if "train_tf_b4_mixed" in st else None,
        ("training step peak memory", _s(_rss(st, "train_tf_b4"), " MiB", 0),
         _s(_rss(st, "train_torch_b4"), " MiB", 0), "train_peak_memory"),
        (f"fastest TFLite ({fastest[0] or '–'}) vs PyTorch fp32, batch 1",
         _s(fastest[1].get("median_s")), _s(_median(st, "forward_torch_b1")),
         "tflite_best_forward"),
        ("TFLite int8 file / fp32 file", _s((tfl.get("int8") or {}).get("size_mb"), " MB", 1),
         _s((tfl.get("fp32") or {}).get("size_mb"), " MB", 1) + " (fp32)", "tflite_int8_size"),
        ("tf.data / training examples/s", _s(data.get("examples_per_s"), "/s", 1),
         _s(train_eps, "/s", 2) + " (training)", "data_over_train"),
    ]
    out = ["| measurement | pinet-tf | PyTorch (authors' design) | ratio | target | met |",
           "|---|---|---|---|---|---|"]
    for label, ours, ref, key in filter(None, rows):
        if isinstance(key, float) or key is None and ref == "–":
            ratio, key = _r(key), None
        else:
            ratio = _r(ratios.get(key)) if key else _r(_ratio(ours, ref))
        t = targets.get(key) if key else None
        out.append(f"| {label} | {ours} | {ref} | {ratio} | {t['target'] if t else ''} | "
                   f"{_met(t) if t else ''} |")
    t = targets.get("tflite_int8_psnr_db")
    if t:
        trained = (st.get("tflite_trained") or {})
        where = (f"trained `{trained.get('config')}` {trained.get('image_size')}" if trained
                 else t.get("reason", ""))
        out.append(f"| TFLite int8 PSNR vs SavedModel ({where}) | {_s(t.get('value'), ' dB', 1)}"
                   f" | | | {t['target']} | {_met(t)} |")
    pf = res.get("peak_fraction", {})
    t = targets.get("peak_fraction.forward_b1")
    ach = res.get("achieved_gflops", {})
    peak = (st.get("peak_tf") or {}).get("peak_gflops")
    out.append(f"| forward b1 GFLOP/s / measured peak ({_s(peak, '', 0)} GFLOP/s) | "
               f"{_s(ach.get('forward_b1'), '', 0)} ({_r(pf.get('forward_b1'))}) | "
               f"{_s(ach.get('forward_torch_b1'), '', 0)} ({_r(pf.get('forward_torch_b1'))}) | "
               f"| {t['target'] if t else ''} | {_met(t)} |")
    tf_train, torch_train = st.get("train_tf_b4") or {}, st.get("train_torch_b4") or {}
    torch_peak = (st.get("peak_torch") or {}).get("peak_gflops")
    out.append(f"| training step b4 GFLOP/s / measured peak (TF {_blank(peak)}, torch "
               f"{_blank(torch_peak)} GFLOP/s) | {_rate(tf_train)} | {_rate(torch_train)} | | | |")
    return "\n".join(out)


def _rate(st: dict) -> str:
    """"GFLOP/s (fraction of peak)", blank where the stage has no FLOP rate."""
    if st.get("achieved_gflops") is None:
        return ""
    return f"{st['achieved_gflops']:.0f} ({_r(st.get('peak_fraction'))})"


def _ratio_values(a, b):
    return a / b if a is not None and b else None


def _ratio(a, b):
    try:
        return float(a.split()[0]) / float(b.split()[0])
    except (ValueError, ZeroDivisionError, AttributeError):
        return None


def stages_table(res: dict) -> str:
    out = []
    for name, st in res.get("stages", {}).items():
        if st.get("skipped"):
            out.append(f"| {name} | – | | | | | | | skipped: {st['skipped']} |")
            continue
        if st.get("error"):
            msg = st["error"].split("; log tail")[0][:120].replace("|", "/")
            out.append(f"| {name} | – | | | {_s(st.get('peak_rss_mb'), ' MiB', 0)} | | | | "
                       f"error: {msg} |")
            continue
        runs = ", ".join(f"{t:.2f}" for t in st.get("times_s", []))
        note = []
        if "peak_gflops" in st:
            note.append(f"matmul {st['matmul_gflops']:.0f}, conv {st['conv_gflops']:.0f} GFLOP/s")
        if st.get("env"):
            note.append(" ".join(f"{k}={v}" for k, v in st["env"].items()))
        if st.get("jit_compile"):
            note.append("jit_compile")
        if "bnfold_max_abs_diff" in st:
            note.append(f"BN folded {100 * st['bn_folded_fraction']:.0f}%, max diff "
                        f"{st.get('bnfold_max_abs_diff', float('nan')):.1e}")
        if "examples_per_s" in st:
            note.append(f"{st['examples_per_s']:.2f} examples/s")
        cells = [name, _s(st.get("median_s")), runs, _s(st.get("cpu_median_s")),
                 _s(st.get("peak_rss_mb"), " MiB", 0), _blank(st.get("gflop"), 1),
                 _rate_cells(st), "; ".join(note)]
        out.append(_row(*cells))
    return _table("stage | median | runs (s) | CPU s (median) | peak RSS | GFLOP | GFLOP/s | "
                  "of peak | note", out)


def tflite_table(res: dict) -> str:
    out = []
    for stage in ("tflite", "tflite_trained"):
        st = res.get("stages", {}).get(stage) or {}
        for name, v in (st.get("variants") or {}).items():
            v = v or {}
            out.append(_row(name, f"{st.get('weights', '?')}, {st.get('image_size')}",
                            _s(v.get("size_mb"), " MB", 1), _s(v.get("median_s")),
                            _s(v.get("psnr_db"), " dB", 1), _rate_cells(v)))
    return _table("TFLite variant | weights | size | latency b1 | PSNR vs SavedModel | GFLOP/s | "
                  "of peak", out)


def ab_table(res: dict) -> str:
    """Interleaved forward variants (stage forward_ab_*): time relative to plain Keras."""
    out = []
    for name, st in res.get("stages", {}).items():
        if not name.startswith("forward_ab"):
            continue
        for k, v in (st.get("variants") or {}).items():
            diff = st["max_abs_diff"].get(k, float("nan"))
            out.append(_row(k, st["batch"], _s(v["median_s"]), _s(v.get("cpu_median_s")),
                            _r(v["vs_keras"]), f"{diff:.1e}", _rate_cells(v)))
    return _table("interleaved variants | batch | median | CPU s | vs Keras | max diff | GFLOP/s | "
                  "of peak", out)


def render(res: dict) -> str:
    m, s = res.get("machine", {}), res.get("settings", {})
    head = (f"Results `{res.get('name')}` ({res.get('created_utc')}): {m.get('cpu', '?')}, "
            f"{s.get('threads')} threads, TF {m.get('tensorflow')}, torch {m.get('torch', '–')}, "
            f"config `{s.get('config')}`{' ' + s['size'] if s.get('size') else ''}, "
            f"median of {s.get('repeats')} after 1 warm-up"
            f"{', QUICK (not for the record)' if s.get('quick') else ''}; load average "
            f"{_fmt_load(m.get('load_avg_at_start'))} at start.")
    parts = [head, "", summary_table(res), "", stages_table(res)]
    for t in (tflite_table(res), ab_table(res)):
        if t:
            parts += ["", t]
    reasons = res.get("ratio_null_reasons") or {}
    if reasons:
        parts += ["", "Ratios not measured: " + "; ".join(
            f"`{k}`: {v.split('; log tail')[0][:160]}" for k, v in reasons.items())]
    return "\n".join(parts) + "\n"


def _fmt_load(v):
    return "?" if not v else "/".join(f"{x:.1f}" for x in v)


def update_readme(readme: str, text: str) -> None:
    from pinet_tf.utils.atomic import write_text
    with open(readme) as f:
        content = f.read()
    if START not in content or END not in content:
        raise ValueError(f"{readme}: markers {START} ... {END} not found")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    write_text(readme, f"{head}{START}\n{text}{END}{tail}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="benchmarks/results/<name>.json")
    p.add_argument("--readme", help="replace the marked table in this file")
    args = p.parse_args(argv)
    from benchmarks.common import read_json
    try:
        text = render(read_json(args.results))
        if args.readme:
            update_readme(args.readme, text)
    except (OSError, ValueError) as e:
        print(f"python -m benchmarks.to_markdown: error: {e}", file=sys.stderr)
        return 2
    if not args.readme:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
