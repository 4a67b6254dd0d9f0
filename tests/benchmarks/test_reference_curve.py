"""benchmarks.reference_curve: a few steps of both sides from one state, and the comparison."""

import json

import numpy as np
import pytest
from PIL import Image

from benchmarks import reference_curve as RC


@pytest.mark.slow
def test_a_few_steps_of_both_sides_from_one_state(tiny_records, tmp_path):
    """3 steps, held-out points at steps 0, 2 and 3: both sides start from identical outputs,
    see the same batches, take steps that change their outputs, and stay close after 3 steps
    (the first step is the same computation; float32 rounding differs after it)."""
    pytest.importorskip("torch")
    out, plot = tmp_path / "curve.json", tmp_path / "curve.png"
    assert RC.main(["--records", tiny_records, "--steps", "3", "--every", "2", "--pairs", "4",
                    "--seeds", "0", "--out", str(out), "--plot", str(plot)]) == 0
    r = json.loads(out.read_text())
    s = r["settings"]
    assert (s["steps"], s["every"], s["batch"], s["seeds"], s["lrs"]) == (3, 2, 6, [0], [2e-4])
    assert s["model_config"]["parsing_feed"] == "logits"
    assert s["model_config"]["discriminator_dropout"] == 0.0
    assert s["losses"]["perceptual"] == 0.0 and s["losses"]["gan"] == 5.0
    tc = s["train_configs"]["0.0002"]
    assert (tc["schedule"], tc["perceptual_weight"], tc["gan_weight"], tc["decay_steps"]) == (
        "official", 0.0, 5.0, 0)
    assert r["baselines"]["held_out_pairs"] == 4
    assert r["baselines"]["paint_by_parsing_true"] < r["baselines"]["flat_grey"]
    runs = {run["side"]: run for run in r["runs"]}
    assert sorted(runs) == ["pinet_tf", "torch"]
    assert runs["torch"]["batches_sha256"] == runs["pinet_tf"]["batches_sha256"]
    for run in runs.values():
        assert [p["step"] for p in run["curve"]] == [0, 2, 3]
        assert [c["steps"] for c in run["losses"]] == [[0, 2], [2, 3]]
        assert set(run["losses"][0]) == {"steps", *RC.LOSSES}
        assert 0 < run["curve"][0]["model"] < 255
        assert run["curve"][-1]["model"] != run["curve"][0]["model"]  # it trained
    t, k = runs["torch"]["curve"], runs["pinet_tf"]["curve"]
    for key in RC.CURVES:
        assert k[0][key] == pytest.approx(t[0][key], abs=1e-4), key
        assert k[-1][key] == pytest.approx(t[-1][key], abs=0.5), key
    first_t, first_k = runs["torch"]["losses"][0], runs["pinet_tf"]["losses"][0]
    for name in RC.LOSSES:
        assert first_k[name] == pytest.approx(first_t[name], rel=1e-2), name
    c = r["comparison"]["model"]["0.0002"]
    assert c["step0_gap"] <= 1e-4 and "within_noise" not in c  # one seed: no noise measure
    assert np.asarray(Image.open(plot)).shape[2] == 3


def _run(side, seed, values, lr=2e-4):
    return {"lr": lr, "seed": seed, "side": side,
            "curve": [{"step": 50 * i, "model": v, "paint_by_parsing": 30.0}
                      for i, v in enumerate(values)]}


def test_compare_measures_the_gaps_against_the_seed_spread():
    runs = [_run("torch", 0, [60, 50, 40]), _run("torch", 1, [61, 51, 42]),
            _run("pinet_tf", 0, [60, 50.5, 40]), _run("pinet_tf", 1, [61, 51, 44])]
    c = RC.compare(runs)["0.0002"]
    assert c["final"] == {"torch_seed0": 40, "torch_seed1": 42, "pinet_tf_seed0": 40,
                          "pinet_tf_seed1": 44}
    assert c["step0_gap"] == 0
    assert c["torch_seed_spread"] == {"mean": 1.5, "max": 2.0}  # |1|, |2| (step 0 left out)
    assert c["same_seed_gap"] == {"mean": 0.625, "max": 2.0}  # 0.5, 0, 0, 2
    assert c["pinet_tf_seed_spread"] == {"mean": 2.25, "max": 4.0}
    assert c["within_noise"]
    runs[3]["curve"][2]["model"] = 44.5  # a gap beyond the largest torch spread
    assert not RC.compare(runs)["0.0002"]["within_noise"]


def test_merge_combines_seed_files_and_draws_one_panel_per_lr(tmp_path):
    settings = {"steps": 100, "batch": 6, "seeds": [0], "lrs": [2e-4],
                "train_configs": {"0.0002": {}}}
    base = {"settings": settings, "baselines": {"paint_by_parsing_true": 20.0,
                                                "held_out_pairs": 60}}
    parts = []
    for seed in (0, 1):
        part = dict(base, settings=dict(settings, seeds=[seed]),
                    runs=[_run("torch", seed, [60, 55 - seed, 50]),
                          _run("pinet_tf", seed, [60, 55, 50 + seed]),
                          _run("torch", seed, [60, 40, 30], lr=1e-3),
                          _run("pinet_tf", seed, [60, 41, 30], lr=1e-3)])
        parts.append(tmp_path / f"s{seed}.json")
        parts[-1].write_text(json.dumps(part))
    out, plot = tmp_path / "merged.json", tmp_path / "merged.png"
    assert RC.main(["--merge", *map(str, parts), "--out", str(out), "--plot", str(plot)]) == 0
    merged = json.loads(out.read_text())
    assert merged["settings"]["seeds"] == [0, 1] and len(merged["runs"]) == 8
    assert sorted(merged["comparison"]["model"]) == ["0.0002", "0.001"]
    assert merged["comparison"]["model"]["0.001"]["torch_seed_spread"]["max"] == 0.0
    assert Image.open(plot).size[0] == 2 * 900  # one 900-px panel per lr (benchmarks.plot)
