"""The base install (no scipy, no scikit-image, no torch, no lpips) imports and runs the metrics
and the evaluation: no module on a verb's import path needs an extra."""

import os
import subprocess
import sys

EXTRAS = ("scipy", "skimage", "torch", "torchvision", "lpips", "dill")

SCRIPT = f"""
import sys
for name in {EXTRAS!r}:
    sys.modules[name] = None  # 'import name' now raises ImportError, as without the package
import numpy as np
import pinet_tf.metrics, pinet_tf.evaluation, pinet_tf.evaluation.evaluator
import pinet_tf.evaluation.cli, pinet_tf.losses, pinet_tf.utils.weights
from pinet_tf.metrics import inception_score
p = np.tile(np.eye(10), (10, 1))
mean, std = inception_score(p, splits=10)
assert abs(mean - 10.0) < 1e-9 and std < 1e-9, (mean, std)
assert all(sys.modules.get(n) is None for n in {EXTRAS!r})
print("ok")
"""


def test_metrics_and_evaluation_import_without_any_extra():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
