"""From the stages' raw numbers to the results' verdicts: ratios, FLOP rates, targets.

Pure functions of the `stages` dict of a results file (no timing, no frameworks), so the tests
check them on hand-made stage results.
"""

from __future__ import annotations

from benchmarks.common import flop_rate

# The targets: ratio key -> (comparison, bound).
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
# Short names of the deployed forward ("ours" in the ratios) in `peak_fraction` / `achieved_gflops`.
FRACTION_ALIASES = {"forward_b1": "forward_savedmodel_b1", "forward_b8": "forward_savedmodel_b8"}


def _median(stages, name):
    return (stages.get(name) or {}).get("median_s")


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


def peak_of(stages: dict, stage: dict) -> tuple:
    """(name of the peak stage, its GFLOP/s) that `stage` is judged against, or (None, None).

    A torch stage against torch's peak, everything else (TF, TFLite) against TF's; the TF peak
    stands in where torch's was not measured.
    """
    for name in (("peak_torch",) if stage.get("framework") == "torch" else ()) + ("peak_tf",):
        peak = (stages.get(name) or {}).get("peak_gflops")
        if peak:
            return name, peak
    return None, None


def stage_rates(stages: dict, stage: dict, timing: dict | None = None) -> dict:
    """{achieved_gflops, peak_fraction, peak_stage} of `stage` (or of one of its variants,
    `timing`), or {} where it has no FLOP count or no time."""
    timing = stage if timing is None else timing
    peak_name, peak = peak_of(stages, stage)
    achieved, fraction = flop_rate(timing.get("gflop", stage.get("gflop")),
                                   timing.get("median_s"), peak)
    if achieved is None:
        return {}
    return {"achieved_gflops": achieved, "peak_fraction": fraction, "peak_stage": peak_name}


def annotate_flop_rates(stages: dict) -> None:
    """Add `achieved_gflops`, `peak_fraction` and `peak_stage` to every timed stage with a FLOP
    count, and to each of its timed `variants` (in place)."""
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        stage.update(stage_rates(stages, stage))
        for variant in (stage.get("variants") or {}).values():
            if isinstance(variant, dict):
                variant.update(stage_rates(stages, stage, variant))


def compute_peak_fraction(stages: dict) -> tuple:
    """(peak fractions, achieved GFLOP/s) of every timed stage with a FLOP count, by stage name,
    plus `forward_b1` / `forward_b8` for the SavedModel forward (`forward_b1` always present)."""
    fractions, achieved = {}, {}
    names = dict(FRACTION_ALIASES)
    names.update({n: n for n in stages})
    for key, name in names.items():
        rates = stage_rates(stages, stages.get(name) or {})
        if rates:
            achieved[key], fractions[key] = rates["achieved_gflops"], rates["peak_fraction"]
    fractions.setdefault("forward_b1", None)
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
