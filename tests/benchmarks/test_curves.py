"""benchmarks/curves.py: the learning-curve picture and summary from RUN_DIR/curve.jsonl files."""

import json

import numpy as np
from PIL import Image

from benchmarks import curves


def _run(path, models, paint=30.0):
    path.mkdir()
    with open(path / "curve.jsonl", "w") as f:
        for i, m in enumerate(models):
            f.write(json.dumps({"step": 100 * i, "model": m, "paint_by_parsing": paint,
                                "paint_by_parsing_true": 18.0, "flat_grey": 54.0}) + "\n")
    return str(path)


def test_picture_and_summary(tmp_path, capsys):
    a = _run(tmp_path / "a", [54.0, 40.0, 29.0, 31.0])
    b = _run(tmp_path / "b", [54.0, 50.0, 45.0])
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"first": "pinet-tf train ..."}))
    out, summary = tmp_path / "c.png", tmp_path / "s.json"
    assert curves.main([f"{a}=first", b, "--out", str(out), "--summary", str(summary),
                        "--notes", str(notes)]) == 0
    picture = np.asarray(Image.open(out))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.std() > 10
    s = json.loads(summary.read_text())
    assert s["first"]["first_step_below_paint_by_parsing"] == 200
    assert s["first"]["best_model"] == {"step": 200, "model": 29.0}
    assert s["first"]["run"] == "pinet-tf train ..."
    assert s["b"]["first_step_below_paint_by_parsing"] is None
    assert [p["model"] for p in s["b"]["points"]] == [54.0, 50.0, 45.0]


def test_the_untrained_point_counts_for_neither_crossing_nor_best(tmp_path):
    # step 0: the untrained model (near grey) is below paint-by-parsing with the untrained
    # G_p's noise parsing, and below every later model point
    points = [{"step": 0, "model": 20.0, "paint_by_parsing": 80.0},
              {"step": 100, "model": 50.0, "paint_by_parsing": 30.0},
              {"step": 200, "model": 29.0, "paint_by_parsing": 30.0}]
    s = curves.summarise(points)
    assert s["first_step_below_paint_by_parsing"] == 200
    assert s["best_model"] == {"step": 200, "model": 29.0}
    assert curves.summarise(points[:2])["first_step_below_paint_by_parsing"] is None
    assert curves.summarise(points[:1])["best_model"] == {"step": 0, "model": 20.0}


def test_a_run_without_curve_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert curves.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no curve.jsonl" in err[0]
    assert not (tmp_path / "x.png").exists()
