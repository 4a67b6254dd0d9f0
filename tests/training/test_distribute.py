"""MirroredStrategy over 2 logical CPU devices with `fit` and the per-phase step functions.

Logical devices must be configured before TensorFlow initialises, so the run happens in a fresh
process. (MultiWorkerMirroredStrategy: `scripts/multiworker_smoke.py`, two local workers.)
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.callbacks import PhaseScheduler
from pinet_tf.training.distribute import numeric_features
from pinet_tf.training.run import build_trainer
from tests.training.contract_data import contract_dataset
from tests.training.test_trainer import MICRO

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
train_cfg = TrainConfig(schedule="official", steps=(2,), batch_size=4, perceptual_weight=0)
keras.utils.set_random_seed(0)
trainer = build_trainer(MICRO, train_cfg, strategy)
before = {v.path: v.numpy().copy() for v in trainer.image_generator.trainable_variables}

class Count(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.model.step.assign_add(1)

history = trainer.fit(numeric_features(contract_dataset(MICRO, n=8, batch_size=4)), steps_per_epoch=2, epochs=1,
                      verbose=0, callbacks=[PhaseScheduler(train_cfg.phase_at, verbose=0),
                                            Count()])
def per_replica(x):
    # A Keras variable created in the scope wraps a tf MirroredVariable (one copy per device).
    return getattr(getattr(x, "_value", x), "values", None)

copies = [per_replica(x) for x in trainer.image_generator.trainable_variables]
replicated = [c is not None and len(c) == 2 for c in copies]
copies_equal = all(np.array_equal(c[0].numpy(), c[1].numpy()) for c in copies if c)
moved = any(not np.array_equal(before[v.path], v.numpy())
            for v in trainer.image_generator.trainable_variables)
print("RESULT " + json.dumps({
    "replicas": strategy.num_replicas_in_sync, "copies_equal": copies_equal,
    "all_replicated": all(replicated), "moved": moved, "phase": trainer.current_phase(),
    "gi_iterations": int(trainer.image_optimizer.iterations.numpy()),
    "losses": {k: float(v[-1]) for k, v in history.history.items()}}))
"""


def test_mirrored_strategy_on_two_logical_cpus():
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["replicas"] == 2
    assert result["all_replicated"] and result["copies_equal"]
    assert result["moved"] and result["phase"] == 3 and result["gi_iterations"] == 2
    assert {"parsing_ce", "l1", "d_pose", "d_appearance", "g_total"} <= set(result["losses"])
    assert all(abs(v) < 1e6 for v in result["losses"].values())
