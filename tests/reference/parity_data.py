"""The torch-free half of the training parity fixture: its sizes, how its batches are made,
stored and decoded (numpy only, so the CI test without torch decodes exactly what the torch side
was fed). Written by `make_parity_fixture.py`, read by `tests/training/test_parity.py`."""

import os

import numpy as np

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "fixtures", "parity")
HEIGHT, WIDTH, NGF, NDF, BLOCKS, BATCH, STEPS = 64, 48, 8, 4, 3, 2, 2
NETS = ("netG", "netD_PB", "netD_PP")


def encoded_batches(steps, batch, height, width, seed=0):
    """Random batches as stored: uint8 images / heatmaps and parsing labels, NHWC."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        b = {}
        for side in ("source", "target"):
            b[f"{side}_image"] = rng.integers(0, 256, (batch, height, width, 3), dtype=np.uint8)
            b[f"{side}_heatmaps"] = rng.integers(0, 256, (batch, height, width, NUM_KEYPOINTS),
                                                 dtype=np.uint8)
            b[f"{side}_parsing"] = rng.integers(0, NUM_CLASSES, (batch, height, width),
                                                dtype=np.uint8)
        out.append(b)
    return out


def decode_batch(encoded):
    """Stored batch -> the trainer's element dict (float32 NHWC; images in [-1, 1], heatmaps in
    [0, 1], parsings one-hot). numpy only, so the torch-free test decodes identically."""
    out = {}
    for side in ("source", "target"):
        out[f"{side}_image"] = encoded[f"{side}_image"].astype(np.float32) / 127.5 - 1.0
        out[f"{side}_heatmaps"] = encoded[f"{side}_heatmaps"].astype(np.float32) / 255.0
        out[f"{side}_parsing_onehot"] = np.eye(NUM_CLASSES, dtype=np.float32)[
            encoded[f"{side}_parsing"]]
    return out


def fixture_config():
    from pinet_tf.config import ModelConfig

    return ModelConfig(name="parity-fixture", image_height=HEIGHT, image_width=WIDTH, ngf=NGF,
                       ndf=NDF, discriminator_blocks=BLOCKS, discriminator_dropout=0.0)


def load_batches(path):
    """batches.npz -> list of encoded batches (as `encoded_batches` returns)."""
    with np.load(path) as z:
        steps = sorted({int(k.split("/")[0]) for k in z.files})
        return [{k.split("/")[1]: z[k] for k in z.files if k.startswith(f"{i}/")}
                for i in steps]
