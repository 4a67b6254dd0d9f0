"""The official schedule reproduces the authors' training step (issue 16 items 1, 2, 7).

Both sides start from one state (torch state dicts imported into Keras), are fed the same
batches with D dropout off, and take N = 2 steps: ours through `fit` of the trainer that
`pinet-tf train --schedule official` builds, theirs through `tests/reference/official_step.py`
(the authors' step written from `docs/official_training.md`, with their spectral-norm gradient:
the D step's real pass takes d sigma / dW from the fake pass's u, v, `pinet_tf.layers.
spectral_norm`). That port was checked against the authors' own code, run locally (never
committed): equal to 2e-12 (`docs/results/parity.md`). Then, for G, D_PB and D_PP:

* the update (after - before) of every trainable tensor agrees within 1e-5 relative (L2) per
  tensor and 1e-6 overall (issue 28 asks for 2e-2 and 1e-3). The conv biases of the Ds are the
  exception: each is followed by instance norm, so their true gradient is exactly 0 and both
  sides' "gradients" are rounding noise (amplified by Adam's 1/(sqrt(v) + eps)); they are
  checked to stay negligible instead;
* BatchNorm running means agree within 1e-4 and running variances within 1e-3 relative
  (PyTorch folds the unbiased batch variance, n / (n - 1), into running_var, Keras the biased
  one: a relative difference of about momentum / (n - 1) per step);
* the spectral-norm u vectors (3 power iterations per D per step) agree within 1e-4;
* the loss values agree.

Both sides run in float64 (ours under the "float64" dtype policy AND floatx, `dtype_policy`, from
the float32 initial state; a float64 run must be float64 end to end, `docs/official_training.md`
"Checking a step in float64"):
in float32, the authors' own step disagrees with itself in float64 by 3.9% overall after one step
(up to 35% per tensor), because Adam's first steps are about lr * sign(g) per element and every
gradient within rounding of 0 flips; no float32 implementation can meet 1e-3 on updates.

`test_fixture_*` checks the committed fixture (ngf 8, ndf 4, 64x48, made by
`python -m tests.reference.make_parity_fixture`) without torch; `test_official_widths_*` runs
torch live at the official widths (ngf = ndf = 64; 32x24, batch 2: 1-2 minutes on 2 idle cores;
slow-marked: the exact spectral-norm gradient (the paper schedule's) and 64x44, batch 4). All
assert the bounds below (tighter than issues 16 and 28 ask); figures: `docs/results/parity.md`.
"""

import contextlib
import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.export.torch_import import load_torch_discriminator, load_torch_generator
from pinet_tf.models import (build_appearance_discriminator, build_generator,
                             build_pose_discriminator)
from pinet_tf.training.config import TrainConfig
from pinet_tf.training.optimizers import TorchAdam
from pinet_tf.training.run import build_trainer
from pinet_tf.training.schedules import make_optimizers
from pinet_tf.utils.torchfile import load_state_dict
from tests.reference import parity_data as P

#: Issue 28 asks for 2e-2 per tensor and 1e-3 overall after two steps; both sides agree to about
#: 1e-9 (docs/results/parity.md), so the bounds are tighter: a float32 rounding anywhere in the
#: step fails them (a float32 learning rate gave 7.6e-6 overall at 32x24, 4.2e-3 at 64x44).
PER_TENSOR, OVERALL = 1e-5, 1e-6
BN_MEAN, BN_VAR, SN_U = 1e-4, 1e-3, 1e-4
LOSS_RTOL = 1e-4
#: RMS update of the zero-gradient biases, in units of lr: Adam bounds it by about 1 whatever the
#: noise; they have no effect on any output.
NOISE_UPDATE = 1.0


# -- the Keras side -------------------------------------------------------------------------
def keras_vgg_file(vgg_state, path):
    """A Keras VGG19 notop weights file whose relu1_2 trunk is torchvision's `features.0/2`."""
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for layer, index in (("block1_conv1", 0), ("block1_conv2", 2)):
        w = np.asarray(vgg_state[f"features.{index}.weight"], np.float32)
        b = np.asarray(vgg_state[f"features.{index}.bias"], np.float32)
        vgg.get_layer(layer).set_weights([np.transpose(w, (2, 3, 1, 0)), b])
    vgg.save_weights(path)
    return path


def official_trainer(cfg, vgg_path, steps, batch_size, sn_gradient=None):
    """What `pinet-tf train --schedule official` builds (perceptual relu1_2 with torch
    normalisation, the weights the authors load; the authors' spectral-norm gradient unless
    `sn_gradient` says otherwise); no decay within these few steps (the authors' first 500
    epochs are constant)."""
    train_cfg = TrainConfig(schedule="official", steps=(steps,), batch_size=batch_size,
                            decay_steps=0, vgg_weights=vgg_path, vgg_preprocessing="torch",
                            spectral_norm_gradient=sn_gradient)
    return build_trainer(cfg, train_cfg)


def keras_networks(trainer):
    return {"netG": trainer.generator, "netD_PB": trainer.pose_discriminator,
            "netD_PP": trainer.appearance_discriminator}


def load_states(cfg, nets, states):
    load_torch_generator(nets["netG"], states["netG"])
    load_torch_discriminator(nets["netD_PB"], states["netD_PB"], cfg)
    load_torch_discriminator(nets["netD_PP"], states["netD_PP"], cfg)


def imported(cfg, states):
    """Fresh Keras networks holding `states` (the expected state, in Keras layout)."""
    nets = {"netG": build_generator(cfg), "netD_PB": build_pose_discriminator(cfg),
            "netD_PP": build_appearance_discriminator(cfg)}
    load_states(cfg, nets, states)
    return nets


def snapshot(nets):
    """{net: {variable path: (array, trainable)}}"""
    return {n: {v.path: (np.array(v.numpy()), v.trainable) for v in m.weights}
            for n, m in nets.items()}


def fit_steps(trainer, batches):
    ds = tf.data.Dataset.from_tensors(batches[0])
    for b in batches[1:]:
        ds = ds.concatenate(tf.data.Dataset.from_tensors(b))
    history = trainer.fit(ds, steps_per_epoch=len(batches), epochs=1, shuffle=False, verbose=0)
    return history


def _tensors(path, value):
    """The authors' tensors inside one Keras variable: a gated conv's fused kernel / bias holds
    `gated_conv` (first half) and `mask_conv` (second half)."""
    if path.endswith(("/conv/kernel", "/conv/bias")):
        feature, gate = np.split(value, 2, axis=-1)
        return {f"{path}[gated_conv]": feature, f"{path}[mask_conv]": gate}
    return {path: value}


def _zero_gradient(net, path):
    """D conv biases (instance norm follows) and attention key biases (adding b_k to every key
    adds q.b_k to a whole softmax row): their exact gradient is 0."""
    return (net != "netG" and path.endswith("/bias")) or path.endswith("/key/bias")


def _rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def compare(before, after, update, lr=2e-4):
    """`update`: the reference's after - before in Keras layout. Returns {"per_tensor": {name:
    rel}, "overall": rel, "bn_mean", "bn_var", "u": max rel of the state after the steps,
    "noise": max RMS update / lr of the zero-gradient biases}."""
    per_tensor, num, den = {}, 0.0, 0.0
    stats = {"bn_mean": 0.0, "bn_var": 0.0, "u": 0.0, "noise": 0.0}
    for net in before:
        for path, (b, trainable) in before[net].items():
            a, u = after[net][path][0], update[net][path][0]
            if not trainable:
                kind = ("bn_mean" if path.endswith("moving_mean") else
                        "bn_var" if path.endswith("moving_variance") else "u")
                stats[kind] = max(stats[kind], _rel(a, b + u))
                continue
            if _zero_gradient(net, path):
                for d in (a - b, u):
                    stats["noise"] = max(stats["noise"], float(np.sqrt(np.mean(d ** 2))) / lr)
                continue
            ours, theirs = _tensors(path, a - b), _tensors(path, u)
            for name in ours:
                per_tensor[f"{net}/{name}"] = _rel(ours[name], theirs[name])
                num += float(np.sum((ours[name] - theirs[name]) ** 2))
                den += float(np.sum(theirs[name] ** 2))
    return {"per_tensor": per_tensor, "overall": float(np.sqrt(num / den)), **stats}


def bn_var_tolerance(batch, height, width, steps, momentum=0.1):
    """PyTorch folds var * n / (n - 1) into running_var, Keras var: per step a relative
    difference of up to momentum / (n - 1), n = B * (H/4) * (W/4) at the trunk; at least 1e-3."""
    n = batch * (height // 4) * (width // 4)
    return max(BN_VAR, 1.1 * steps * momentum / (n - 1))


def assert_parity(report, losses, expected_losses, overall=None, per_tensor=PER_TENSOR,
                  bn_var=BN_VAR):
    overall = OVERALL if overall is None else overall
    worst = sorted(report["per_tensor"].items(), key=lambda kv: -kv[1])[:5]
    summary = (f"overall {report['overall']:.2e}, worst tensors {worst}, BN mean "
               f"{report['bn_mean']:.1e} var {report['bn_var']:.1e}, u {report['u']:.1e}, "
               f"zero-gradient bias updates {report['noise']:.2e} lr")
    print(summary)
    assert report["overall"] <= overall, summary
    assert worst[0][1] <= per_tensor, summary
    assert report["bn_mean"] <= BN_MEAN and report["bn_var"] <= bn_var, summary
    assert report["u"] <= SN_U, summary
    assert report["noise"] <= NOISE_UPDATE, summary
    for name, value in expected_losses.items():
        assert losses[name] == pytest.approx(value, rel=LOSS_RTOL), (name, losses, value)


@contextlib.contextmanager
def dtype_policy(name):
    """The global dtype policy AND floatx: `keras.Input` takes its dtype from floatx, so under
    a float64 policy alone every model input is float32 and G's float64 output is rounded to
    float32 where it enters the discriminators (and G_p's logits where they enter G_i): 1e-7
    relative in the D gradients, 1e-6 in G_i's, which Adam turns into sign flips."""
    old, old_floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy(name)
    keras.config.set_floatx(keras.dtype_policies.get(name).variable_dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)
        keras.config.set_floatx(old_floatx)


def keras_run(cfg, states, updates, vgg_state, batches, tmp_path, sn_gradient=None):
    """In float64: import `states`, take len(batches) official steps through `fit`.
    Returns (before, after, expected update, mean losses) in Keras layout."""
    vgg_path = keras_vgg_file(vgg_state, str(tmp_path / "vgg19.weights.h5"))
    with dtype_policy("float64"):
        trainer = official_trainer(cfg, vgg_path, len(batches), len(batches[0]["source_image"]),
                                   sn_gradient)
        nets = keras_networks(trainer)
        load_states(cfg, nets, states)
        before = snapshot(nets)
        wide = [{k: v.astype(np.float64) for k, v in b.items()} for b in batches]
        history = fit_steps(trainer, wide)
        expected = snapshot(imported(cfg, updates))  # linear maps: update in Keras layout
    return before, snapshot(nets), expected, {k: v[-1] for k, v in history.history.items()}


def last_step_losses(torch_losses):
    """Keras's fit reports the mean over the epoch's steps."""
    names = {"parsing_ce": "parsing_ce", "l1": "l1", "perceptual": "perceptual",
             "g_gan": "g_gan", "g_total": "g_total", "d_pb": "d_pose", "d_pp": "d_appearance"}
    return {ours: float(np.mean([step[theirs] for step in torch_losses]))
            for theirs, ours in names.items()}


# -- CI: the committed fixture, no torch ------------------------------------------------------
def test_fixture_two_official_steps_match_the_authors_step(tmp_path):
    d = P.DEFAULT_OUT
    cfg = ModelConfig.load(os.path.join(d, "config.json"))
    before_states = {n: load_state_dict(os.path.join(d, f"{n}_before.pth")) for n in P.NETS}
    updates = {n: load_state_dict(os.path.join(d, f"{n}_update.pth")) for n in P.NETS}
    batches = [P.decode_batch(b) for b in P.load_batches(os.path.join(d, "batches.npz"))]
    with open(os.path.join(d, "losses.json")) as f:
        torch_losses = json.load(f)
    assert len(batches) == len(torch_losses) >= 2
    before, after, expected, losses = keras_run(
        cfg, before_states, updates, load_state_dict(os.path.join(d, "vgg_relu1_2.pth")),
        batches, tmp_path)
    assert_parity(compare(before, after, expected), losses, last_step_losses(torch_losses))


# -- with torch: live, official widths -------------------------------------------------------
#: (spectral-norm gradient, height, width, batch). 64x44, batch 4 is the size measured against
#: the authors' own code (docs/results/parity.md): 2.5e-7 overall after two steps.
LIVE = [pytest.param("authors", 32, 24, 2, id="authors-32x24"),
        pytest.param("exact", 32, 24, 2, id="exact-32x24", marks=pytest.mark.slow),
        pytest.param("authors", 64, 44, 4, id="authors-64x44", marks=pytest.mark.slow)]


@pytest.mark.parametrize("sn_gradient, height, width, batch", LIVE)
def test_official_widths_two_steps_match_the_authors_step(tmp_path, sn_gradient, height, width,
                                                          batch):
    torch = pytest.importorskip("torch")
    from tests.reference.make_parity_fixture import initial_nets, run_reference, state

    steps = 2
    torch.set_num_threads(2)
    *nets, vgg = initial_nets(64, 64, 3, height, width, seed=5)
    cfg = ModelConfig(name="parity-official", image_height=height, image_width=width,
                      discriminator_dropout=0.0)
    encoded = P.encoded_batches(steps, batch, height, width, seed=6)
    batches = [P.decode_batch(b) for b in encoded]
    np_state = lambda net: {k: v.numpy() for k, v in state(net).items()}  # noqa: E731
    before_states = dict(zip(P.NETS, map(np_state, nets)))
    vgg_state = np_state(vgg)
    torch_losses = run_reference(nets, vgg, batches, sn_gradient=sn_gradient)
    updates = {n: {k: v - before_states[n][k] for k, v in np_state(net).items()}
               for n, net in zip(P.NETS, nets)}
    before, after, expected, losses = keras_run(cfg, before_states, updates, vgg_state,
                                                batches, tmp_path, sn_gradient)
    # Measured: docs/results/parity.md. (Before the float64 fixes, `dtype_policy` and the gated
    # conv's LeakyReLU: 2.8e-2 / 0.11; without the authors' spectral-norm gradient against
    # their step: 0.1 in the Ds; with a float32 learning rate, 4.2e-3 at 64x44.)
    assert_parity(compare(before, after, expected), losses, last_step_losses(torch_losses),
                  bn_var=bn_var_tolerance(batch, height, width, steps))


# -- pieces ---------------------------------------------------------------------------------
def test_torch_adam_is_pytorchs_formula():
    """Against PyTorch's Adam formula written out in numpy (eps on the bias-corrected root),
    and unlike Keras's Adam where |g| is small."""
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(50,)).astype(np.float32)
    grads = [(rng.normal(size=(50,)) * 10.0 ** rng.uniform(-9, -3, 50)).astype(np.float32)
             for _ in range(4)]
    lr, b1, b2, eps = 2e-4, 0.5, 0.999, 1e-8

    def run(opt):  # in float64, so that rounding of p (~1e-7 of |p|) does not hide the update
        var = keras.Variable(p0.astype(np.float64), dtype="float64")
        for g in grads:
            opt.apply([g.astype(np.float64)], [var])
        return var.numpy()

    p, m, v = p0.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
    ours = run(TorchAdam(lr, b1, b2))
    np.testing.assert_allclose(ours - p0, p - p0, rtol=1e-5, atol=1e-15)  # lr is a float32 variable
    keras_adam = run(keras.optimizers.Adam(lr, b1, b2))
    assert np.abs((keras_adam - p0) - (p - p0)).max() > 1e-2 * lr
    assert TorchAdam.from_config(TorchAdam(lr).get_config()).epsilon == eps


def test_spectral_norm_gradient_follows_the_schedule():
    """The authors' sigma gradient is the official schedule's default, the exact one the
    paper's; either can be chosen; anything else is refused in one line."""
    assert TrainConfig(schedule="official").spectral_norm_gradient == "authors"
    assert TrainConfig(schedule="paper").spectral_norm_gradient == "exact"
    assert TrainConfig(schedule="official",
                       spectral_norm_gradient="exact").spectral_norm_gradient == "exact"
    with pytest.raises(ValueError, match="spectral_norm_gradient must be"):
        TrainConfig(spectral_norm_gradient="autograd")


def test_official_lr_is_the_authors_epoch_rule_at_every_step():
    """niter 500 + niter_decay 200 epochs of ceil(40 pairs / batch 6) = 7 steps: our schedule at
    every step equals lr * (1 - max(0, epoch + 1 - 500) / 201), epoch = step // 7."""
    steps_per_epoch, niter, niter_decay, lr = 7, 500, 200, 2e-4
    cfg = TrainConfig(schedule="official", steps=((niter + niter_decay) * steps_per_epoch,),
                      decay_steps=niter_decay * steps_per_epoch, perceptual_weight=0)
    gp, gi, d = make_optimizers(cfg, steps_per_epoch=steps_per_epoch)
    steps = np.arange(cfg.total_steps)
    authors = np.array([lr * (1 - max(0, s // steps_per_epoch + 1 - niter) / (niter_decay + 1))
                        for s in steps])
    for opt in (gp, gi, d):
        assert isinstance(opt, TorchAdam)
        ours = np.asarray(opt._learning_rate(steps))
        np.testing.assert_allclose(ours, authors, rtol=1e-6, atol=2e-11)  # float32 schedule
    # Constant through epoch 499, first decayed value in epoch 500, last lr / 201.
    assert authors[500 * 7 - 1] == lr and authors[500 * 7] < lr
    assert authors[-1] == pytest.approx(lr / 201)


MICRO = ModelConfig(name="micro", image_height=32, image_width=24, ngf=4, ndf=4,
                    discriminator_blocks=1, discriminator_dropout=0.0, parsing_feed="logits")


def _power_iteration(kernel, u):
    wm = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)  # [Cout, k*k*Cin]
    n = lambda a: a / (np.linalg.norm(a) + 1e-12)  # noqa: E731
    return n(wm @ n(wm.T @ u))


def test_official_step_advances_each_u_three_power_iterations():
    """D update: real then fake, two iterations with the old kernel; G term: one more with the
    updated kernel."""
    from pinet_tf.training.config import PHASE_JOINT
    from tests.training.contract_data import contract_dataset

    keras.utils.set_random_seed(0)
    trainer = build_trainer(MICRO, TrainConfig(schedule="official", steps=(1,), batch_size=2,
                                               perceptual_weight=0), run_eagerly=True)
    layers = [layer for d in (trainer.pose_discriminator, trainer.appearance_discriminator)
              for layer in d.layers if hasattr(layer, "u")]
    assert len(layers) == 2 * (3 + 2 * MICRO.discriminator_blocks)
    start = [(np.array(lay.kernel.numpy()), np.array(lay.u.numpy())) for lay in layers]
    trainer.phase_train_step(PHASE_JOINT, next(iter(contract_dataset(MICRO, n=2, batch_size=2))))
    for layer, (kernel, u) in zip(layers, start):
        assert not np.array_equal(kernel, layer.kernel.numpy())  # the D step moved it
        want = _power_iteration(layer.kernel.numpy(),
                                _power_iteration(kernel, _power_iteration(kernel, u)))
        np.testing.assert_allclose(layer.u.numpy(), want, atol=2e-6, err_msg=layer.name)


def test_discriminator_dropout_rate_is_honoured():
    """discriminator_dropout 0: a training call equals an inference call (sigma is the same
    either way); 0.5: the training call drops activations."""
    from pinet_tf.models import build_appearance_discriminator as build

    rng = np.random.default_rng(0)
    x = {"image": rng.uniform(-1, 1, (2, 32, 24, 3)).astype("float32"),
         "source_image": rng.uniform(-1, 1, (2, 32, 24, 3)).astype("float32")}
    for rate, same in ((0.0, True), (0.5, False)):
        keras.utils.set_random_seed(0)
        d = build(dataclasses.replace(MICRO, discriminator_dropout=rate))
        inference = np.asarray(d(x, training=False)["score"])
        training = np.asarray(d(x, training=True)["score"])
        assert np.allclose(inference, training, atol=1e-5) == same, rate
