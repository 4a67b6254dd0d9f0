"""Session fixture of the training package: ONE tiny run through all three paper phases.

`trained_tiny_run`: the RUN_DIR (docs/contracts.md) of `pinet-tf train --config tiny` on the data
fixture `tiny_records`, trained once per session (a few minutes on 2 cores); the proof-of-learning
test and the export / evaluation / inference tests reuse it. Treat it as read-only.

Why these settings: at the authors' learning rate (2e-4) a few hundred steps cannot even rescale
the output layers (each output passes a BatchNorm whose gamma/beta Adam moves by ~lr per step), so
the tiny run uses 2e-3; the perceptual weight is 0 because no VGG19 weights exist offline.
"""

import os

import pytest

#: Steps of the three phases (parsing, image, joint), batch size and learning rate of the run.
TINY_RUN_STEPS = (120, 60, 100)
TINY_RUN_BATCH = 8
TINY_RUN_LR = 2e-3


@pytest.fixture(scope="session")
def trained_tiny_run(tiny_records, tmp_path_factory):
    from pinet_tf.cli import main

    out = str(tmp_path_factory.mktemp("trained_tiny_run") / "run")
    argv = ["train", "--config", "tiny", "--data", tiny_records, "--out", out,
            "--schedule", "paper", "--steps", ",".join(map(str, TINY_RUN_STEPS)),
            "--batch-size", str(TINY_RUN_BATCH), "--lr", str(TINY_RUN_LR),
            "--perceptual-weight", "0", "--checkpoint-every", "100", "--log-every", "20",
            "--image-every", "100", "--verbose", "0"]
    assert main(argv) == 0, "the tiny training run failed"
    assert os.path.isfile(os.path.join(out, "generator.weights.h5"))
    return out
