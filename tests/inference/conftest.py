"""Fixtures of the inference tests."""

import pytest


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A random-weight `ModelConfig.tiny()` generator saved as weights + sidecar config."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.models import build_generator
    from pinet_tf.models.io import save_generator

    cfg = ModelConfig.tiny()
    path = str(tmp_path_factory.mktemp("model") / "tiny.weights.h5")
    save_generator(build_generator(cfg), cfg, path)
    return path
