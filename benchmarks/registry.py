"""The stages by name: what each one runs (its kind), in which framework, with which parameters.

A stage is a name (`forward_savedmodel_b8`), a group (`forward`, for `--only`), a kind and its
parameters. A kind names the function that measures it, `benchmarks.stages.<module>:<function>`,
imported only inside the stage's own child process (big_vision's way of choosing a model or an
evaluator by name from the config), so a torch stage never imports TF and vice versa.
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Kind:
    target: str             # "<module of benchmarks.stages>:<function(params) -> dict>"
    framework: str = "tf"   # the runtime the child sets up ("tf" or "torch")


KINDS = {
    "peak_tf": Kind("peak:run_tf"),
    "peak_torch": Kind("peak:run_torch", "torch"),
    "forward_keras": Kind("forward_keras:run"),
    "forward_savedmodel": Kind("forward_savedmodel:run"),
    "forward_torch": Kind("forward_torch:run", "torch"),
    "forward_ab": Kind("forward_ab:run"),
    "train_tf": Kind("train_tf:run"),
    "train_torch": Kind("train_torch:run", "torch"),
    "tflite": Kind("tflite_stage:run"),
    "data": Kind("data:run"),
}


def lookup(kind: str):
    """The function that measures `kind` (imports its module)."""
    if kind not in KINDS:
        raise ValueError(f"unknown stage kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    module, function = KINDS[kind].target.split(":")
    return getattr(importlib.import_module(f"benchmarks.stages.{module}"), function)


@dataclasses.dataclass
class Stage:
    name: str
    group: str
    kind: str              # key of KINDS
    params: dict = dataclasses.field(default_factory=dict)
    env: dict = dataclasses.field(default_factory=dict)

    @property
    def framework(self) -> str:
        return KINDS[self.kind].framework

    @property
    def torch(self) -> bool:  # needs torch
        return self.framework == "torch"


def all_stages(mixed_precision: bool = False, trained_run: str | None = None) -> list:
    """Every stage of a run, in the order they run (the peaks first: the fractions need them)."""
    s = [Stage("peak_tf", "peak", "peak_tf"), Stage("peak_torch", "peak", "peak_torch")]
    for b in (1, 8):
        s += [Stage(f"forward_{kind}_b{b}", "forward", f"forward_{kind}", {"batch": b})
              for kind in ("keras", "savedmodel", "torch")]
    s += [Stage("train_tf_b4", "train", "train_tf", {"batch": 4}),
          Stage("train_torch_b4", "train", "train_torch", {"batch": 4})]
    if mixed_precision:
        s.append(Stage("train_tf_b4_mixed", "train", "train_tf", {"batch": 4, "mixed": True}))
    s.append(Stage("tflite", "tflite", "tflite"))
    if trained_run:  # PSNR of the quantised files means something only on trained weights
        s.append(Stage("tflite_trained", "tflite", "tflite", {"run": trained_run}))
    s.append(Stage("data", "data", "data"))
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
    """The stages named in `only` (stage or group names, comma-separated); all when empty."""
    if not only:
        return stages
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = {st.name for st in stages} | {st.group for st in stages}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(f"--only/--stages: unknown stage or group {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    return [st for st in stages if st.name in wanted or st.group in wanted]
