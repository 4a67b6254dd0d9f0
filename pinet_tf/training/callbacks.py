"""Callbacks that turn `fit` into a resumable, staged training run.

Order matters (`fit` calls them in list order): `PhaseScheduler` (batch begin) picks the phase of
the step about to run; `RunController` (batch end) counts the step, stops on a non-finite loss
*before* anything is saved, checkpoints, and stops at the last step; `TrainingLogger` then writes
TensorBoard scalars and image grids for the counted step.
"""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from pinet_tf.metrics.person import background_l1, paint_by_parsing, person_l1
from pinet_tf.models.encoding import float_to_uint8
from pinet_tf.utils import drawing
from pinet_tf.training.config import PHASE_NAMES
from pinet_tf.utils.atomic import write_text


class NonFiniteLossError(RuntimeError):
    """A loss became NaN/inf; the message names it and the step."""

    def __init__(self, loss, step, value, checkpoint):
        self.loss, self.step, self.value, self.checkpoint = loss, step, value, checkpoint
        kept = (f"last good checkpoint: {checkpoint}" if checkpoint
                else "no checkpoint was saved before it")
        super().__init__(f"loss {loss!r} became {value} at step {step}; training stopped "
                         f"({kept})")


def check_finite(losses: dict, step, checkpoint, first=()) -> None:
    """Raise `NonFiniteLossError` for a NaN/inf loss; the names in `first` (the phase's own
    losses, before the totals) are checked first, so the culprit is the one named."""
    names = [n for n in first if n in losses]
    for name in names + sorted(set(losses) - set(names)):
        value = float(np.asarray(losses[name]))
        if not math.isfinite(value):
            raise NonFiniteLossError(name, step, value, checkpoint)


class PhaseScheduler(keras.callbacks.Callback):
    """Assigns `model.phase` from the global step before each step (`phase_at(step)`)."""

    def __init__(self, phase_at, verbose=1):
        super().__init__()
        self.phase_at = phase_at
        self.verbose = verbose

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.step.numpy())
        phase = int(self.phase_at(step))
        if phase != self.model.current_phase():
            self.model.phase.assign(phase)
            if self.verbose:
                names = getattr(self.model, "phase_names", PHASE_NAMES)
                print(f"\nstep {step}: phase {phase} ({names.get(phase, phase)})",
                      flush=True)


class RunController(keras.callbacks.Callback):
    """Counts global steps, guards against non-finite losses, checkpoints, stops at the end."""

    def __init__(self, manager: tf.train.CheckpointManager, total_steps: int,
                 checkpoint_every: int):
        super().__init__()
        self.manager = manager
        self.total_steps = int(total_steps)
        self.checkpoint_every = int(checkpoint_every)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.assign_add(1).numpy())
        try:
            check_finite(logs or {}, step, self.manager.latest_checkpoint,
                         self.model.phase_losses(self.model.current_phase()))
        except NonFiniteLossError:
            self.model.stop_training = True
            raise
        if step % self.checkpoint_every == 0 or step >= self.total_steps:
            self.manager.save(checkpoint_number=step)
        if step >= self.total_steps:
            self.model.stop_training = True


def _current_lr(optimizer):
    lr = optimizer.learning_rate
    return float(np.asarray(lr))


def sample_grid(model, batch, scale=1) -> np.ndarray:
    """uint8 picture, one row per example: source | target pose | predicted parsing |
    generated | target (no parsing column for a one-stage model); cells enlarged `scale` times
    (nearest) for small configs."""
    out = model(batch, training=False)
    generated = float_to_uint8(out["image"]).numpy()
    source = float_to_uint8(batch["source_image"]).numpy()
    target = float_to_uint8(batch["target_image"]).numpy()
    parsing = np.argmax(np.asarray(out["parsing_logits"]), axis=-1) \
        if "parsing_logits" in out else None
    keypoints = np.asarray(batch["target_keypoints"])
    h, w = source.shape[1:3]
    big = lambda a: np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)  # noqa: E731
    rows = [[big(source[i]), drawing.draw_skeleton(keypoints[i] * scale, h * scale, w * scale)]
            + ([big(drawing.colorize_parsing(parsing[i]))] if parsing is not None else [])
            + [big(generated[i]), big(target[i])] for i in range(source.shape[0])]
    titles = ["source", "target pose"] + (["predicted parsing"] if parsing is not None else []) \
        + ["generated", "target"]
    return drawing.image_grid(rows, titles=titles, legend=parsing is not None)


class TrainingLogger(keras.callbacks.Callback):
    """TensorBoard: every loss and learning rate each `scalar_every` steps, and a sample grid
    (`sample_grid` on a fixed batch) each `image_every` steps."""

    def __init__(self, log_dir, sample_batch, scalar_every=100, image_every=1000):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.sample_batch = sample_batch
        self.scalar_every = int(scalar_every)
        self.image_every = int(image_every)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        with self.writer.as_default(step=step):
            if step % self.scalar_every == 0:
                for name, value in (logs or {}).items():
                    tf.summary.scalar(f"loss/{name}", float(np.asarray(value)))
                tf.summary.scalar("phase", self.model.current_phase())
                for label, opt in (("parsing", self.model.parsing_optimizer),
                                   ("image", self.model.image_optimizer),
                                   ("discriminators", self.model.discriminator_optimizer)):
                    if label == "parsing" and not self.model.has_parsing:
                        continue
                    tf.summary.scalar(f"learning_rate/{label}", _current_lr(opt))
            if step % self.image_every == 0 and self.sample_batch is not None:
                grid = sample_grid(self.model, self.sample_batch)
                tf.summary.image("samples", grid[None], step=step)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.flush()


class AppearanceCurve(keras.callbacks.Callback):
    """The held-out learning curve that says whether G_i carries appearance.

    Every `every` steps (and at the first and last step) it runs the composed generator
    (inference mode, the G_p -> G_i path a user gets) on fixed held-out pairs and measures the
    person-region L1 in 0..255 (`pinet_tf.metrics.person.person_l1`) of the model and of the
    baselines with no learned parameter: paint-by-parsing with the model's own predicted parsing
    (`paint_by_parsing`), with the true target parsing (`paint_by_parsing_true`), flat grey and
    copy-the-source; and the background L1 (`background_l1`, over the true background) of the
    model and of paint-by-parsing (`model_background`, `paint_by_parsing_background`), which
    shows a person drawn too wide. Each point goes to TensorBoard (`heldout_person_l1/NAME`, and
    `heldout_person_l1/model_over_paint`) and as one JSON line to `path` (RUN_DIR/curve.jsonl);
    a resumed run first drops the lines past its checkpointed step, so the file is the curve of
    the weights the run actually has.
    """

    def __init__(self, batches, every, log_dir, path):
        super().__init__()
        self.batches = list(batches)
        self.every, self.path = int(every), path
        self.writer = tf.summary.create_file_writer(log_dir)
        # Per batch, what every point compares against: (source, its parsing, target, true
        # target parsing), uint8 / int labels.
        self._truth = [(float_to_uint8(b["source_image"]).numpy(), np.asarray(b["source_parsing"]),
                        float_to_uint8(b["target_image"]).numpy(), np.asarray(b["target_parsing"]))
                       for b in self.batches]
        fixed = {"paint_by_parsing_true": [], "flat_grey": [], "copy_source": []}
        for src, sp, tgt, tp in self._truth:
            fixed["paint_by_parsing_true"].append(
                person_l1(paint_by_parsing(src, sp, tp), tgt, tp))
            fixed["flat_grey"].append(person_l1(np.full_like(tgt, 128), tgt, tp))
            fixed["copy_source"].append(person_l1(src, tgt, tp))
        self.fixed = {k: float(np.nanmean(np.concatenate(v))) for k, v in fixed.items()}
        self.pairs = int(sum(t[2].shape[0] for t in self._truth))
        self._last = None

    def measure(self) -> dict:
        """One point of the curve for the model's current weights."""
        found = {}
        for b, (src, sp, tgt, tp) in zip(self.batches, self._truth):
            out = self.model(b, training=False)
            image = float_to_uint8(out["image"]).numpy()
            found.setdefault("model", []).append(person_l1(image, tgt, tp))
            found.setdefault("model_background", []).append(background_l1(image, tgt, tp))
            if "parsing_logits" in out:
                own = np.argmax(np.asarray(out["parsing_logits"]), axis=-1)
                painted = paint_by_parsing(src, sp, own)
                found.setdefault("paint_by_parsing", []).append(person_l1(painted, tgt, tp))
                found.setdefault("paint_by_parsing_background", []).append(
                    background_l1(painted, tgt, tp))
        point = {k: float(np.nanmean(np.concatenate(v))) for k, v in found.items()}
        if "paint_by_parsing" in point:
            point["model_over_paint"] = point["model"] / point["paint_by_parsing"]
        return {**point, **self.fixed}

    def _record(self, step):
        if step == self._last:
            return
        self._last = step
        point = {"step": step, "pairs": self.pairs, **self.measure()}
        with self.writer.as_default(step=step):
            for name, value in point.items():
                if name not in ("step", "pairs"):
                    tf.summary.scalar(f"heldout_person_l1/{name}", value)
        self.writer.flush()
        with open(self.path, "a") as f:
            f.write(json.dumps(point) + "\n")

    def on_train_begin(self, logs=None):
        step = int(self.model.step.numpy())
        kept = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                for line in f:
                    try:
                        if json.loads(line)["step"] <= step:
                            kept.append(line if line.endswith("\n") else line + "\n")
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a kill: dropped
        write_text(self.path, "".join(kept))
        if step == 0:
            self._record(0)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.every == 0 or self.model.stop_training:
            self._record(step)

    def on_train_end(self, logs=None):
        self._record(int(self.model.step.numpy()))
        self.writer.flush()


def read_curve(path) -> list:
    """The points of a RUN_DIR/curve.jsonl (see `AppearanceCurve`), in step order."""
    points = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    points.append(json.loads(line))
                except ValueError:
                    raise ValueError(f"{path}: line {n} is not JSON") from None
    return sorted(points, key=lambda p: p["step"])
