"""Batch mode: `pinet-tf transfer --data DIR --out-dir DIR [--pairs CSV]` over the authors'
layout (the session's tiny synthetic set)."""

import os

import numpy as np
from PIL import Image

from pinet_tf.cli import main
from pinet_tf.datasets import patn
from pinet_tf.inference.batch import output_name


def test_batch_writes_one_result_per_pair(tiny_synthetic_data, tiny_weights, tmp_path):
    out_dir = tmp_path / "results"
    pairs = patn.read_pairs(os.path.join(tiny_synthetic_data, patn.pairs_csv("test")))[:3]
    rc = main(["transfer", "--model", tiny_weights, "--data", tiny_synthetic_data,
               "--out-dir", str(out_dir), "--limit", "3", "--batch-size", "2", "--grid"])
    assert rc == 0
    expected = set()
    for a, b, _ in pairs:
        name = output_name(a, b)
        expected |= {name, name[:-4] + "_grid.png"}
        assert np.asarray(Image.open(out_dir / name)).shape == (64, 44, 3)
    assert set(os.listdir(out_dir)) == expected


def test_batch_checks_every_pair_before_writing(tiny_synthetic_data, tiny_weights, tmp_path,
                                                capsys):
    pairs = patn.read_pairs(os.path.join(tiny_synthetic_data, patn.pairs_csv("test")))
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"from,to\n{pairs[0][0]},{pairs[0][1]}\n{pairs[0][0]},ghost.png\n")
    out_dir = tmp_path / "results"
    rc = main(["transfer", "--model", tiny_weights, "--data", tiny_synthetic_data,
               "--pairs", str(csv), "--out-dir", str(out_dir)])
    assert rc == 2
    assert f"{csv}:3: ghost.png has no row in" in capsys.readouterr().err
    assert not out_dir.exists() or not os.listdir(out_dir)
