"""Session fixture of the training package: ONE tiny run through all three paper phases.

`trained_tiny_run`: the RUN_DIR (docs/contracts.md) of `pinet-tf train --config tiny` on the data
fixture `tiny_records`, trained once per session (a few minutes on 2 cores); the proof-of-learning
test and the export / evaluation / inference tests reuse it. Treat it as read-only.

Why these settings: at the authors' learning rate (2e-4) a few hundred steps cannot even rescale
the output layers (each output passes a BatchNorm whose gamma/beta Adam moves by ~lr per step), so
the tiny run uses 4e-3; the GAN weight is 0 (at this length the adversarial term only adds noise
that costs L1: held-out L1 0.274 with weight 5 at lr 2e-3, 0.250-0.270 with 1 and 0.241 with 0 at
lr 4e-3, measured 2026-11-25; the GAN step is tested compiled in test_distribute.py and eagerly in
test_trainer.py); the perceptual weight is 0 because no VGG19 weights exist offline. Phases
60/200/200: parsing is learned well above the majority class in 60 steps, the image generator is
the slow part. Measured 2026-11-25 on the 40-identity fixture (per-identity backdrops) with the
same step budget: 60/200/200 batch 8 held-out L1 0.194 (copy-the-source 0.135, mean image 0.223);
lr 1e-2: 0.202; batch 4 for 60/400/400: 0.204; 100/80/100 on the old 8-identity set: 0.261.
"""

import os

import pytest

#: Steps of the three phases (parsing, image, joint), batch size and learning rate of the run.
TINY_RUN_STEPS = (60, 200, 200)
TINY_RUN_BATCH = 8
TINY_RUN_LR = 4e-3
TINY_RUN_GAN_WEIGHT = 0.0


@pytest.fixture(scope="session")
def trained_tiny_run(tiny_records, tmp_path_factory):
    from pinet_tf.cli import main

    out = str(tmp_path_factory.mktemp("trained_tiny_run") / "run")
    argv = ["train", "--config", "tiny", "--data", tiny_records, "--out", out,
            "--schedule", "paper", "--steps", ",".join(map(str, TINY_RUN_STEPS)),
            "--batch-size", str(TINY_RUN_BATCH), "--lr", str(TINY_RUN_LR),
            "--perceptual-weight", "0", "--gan-weight", str(TINY_RUN_GAN_WEIGHT),
            "--checkpoint-every", "100", "--log-every", "20",
            "--image-every", "100", "--verbose", "0"]
    assert main(argv) == 0, "the tiny training run failed"
    assert os.path.isfile(os.path.join(out, "generator.weights.h5"))
    return out
