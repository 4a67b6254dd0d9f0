"""The built-in demo model (`pinet_tf/inference/demo/`): what is shipped works on held-out
synthetic people, the files round-trip from a run, bad files fail in one line, and the verbs use
it when --model is not given."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from pinet_tf.inference import demo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples")
#: The demo's training data (MANIFEST.json must say the same): `pinet-tf synth --identities 2000
#: --poses-per-identity 3 --size 64x44 --seed 0`; the last 10% of identities are held out.
SEED, IDENTITIES, POSES, SIZE = 0, 2000, 3, (64, 44)


def _held_out_pairs(identities=6):
    """(source, target) pairs of held-out identities, drawn straight from the generator: identity
    i of the seed-0 set is `sample(0, i, pose)`, so the 400 need not be made."""
    from pinet_tf.datasets.synthetic import sample, split_identities

    held_out = split_identities(IDENTITIES, 0.1).test_identities
    chosen = np.linspace(held_out[0], held_out[-1], identities).round().astype(int)
    pairs = {k: [] for k in ("source_image", "source_parsing", "source_keypoints",
                             "target_image", "target_parsing", "target_keypoints")}
    for ident in chosen:
        people = [sample(SEED, int(ident), pose, *SIZE) for pose in range(POSES)]
        for a, b in ((0, 1), (2, 0)):
            for side, (image, parsing, kp, _) in (("source", people[a]), ("target", people[b])):
                pairs[side + "_image"].append(image)
                pairs[side + "_parsing"].append(parsing)
                pairs[side + "_keypoints"].append(kp.astype(np.float32))
    return {k: np.stack(v) for k, v in pairs.items()}


def _person_l1(images, pairs):
    """Mean |image - target| (0..255) inside the targets' person regions."""
    person = pairs["target_parsing"] > 0
    diff = np.abs(images.astype(np.float64) - pairs["target_image"].astype(np.float64))
    return float(diff[person].mean())


def test_shipped_demo_beats_copy_the_source_on_held_out_people():
    generator, cfg = demo.load_demo()
    manifest = demo.read_manifest()
    data = manifest["data"]
    assert (data["seed"], data["identities"], data["poses_per_identity"], data["size"]) == \
        (SEED, IDENTITIES, POSES, "x".join(map(str, SIZE)))
    assert tuple(cfg.image_size) == SIZE
    assert os.path.getsize(os.path.join(demo.DEMO_DIR, demo.WEIGHTS)) < 10e6

    from pinet_tf.inference.predictor import KerasPredictor

    pairs = _held_out_pairs()
    images, parsing = KerasPredictor(generator, cfg).transfer(
        pairs["source_image"], pairs["source_parsing"], pairs["source_keypoints"],
        pairs["target_keypoints"])
    model, copy = _person_l1(images, pairs), _person_l1(pairs["source_image"], pairs)
    grey = _person_l1(np.full_like(images, 128), pairs)
    whole = float(np.abs(images.astype(float) - pairs["target_image"]).mean())
    whole_copy = float(np.abs(pairs["source_image"].astype(float) - pairs["target_image"]).mean())
    from pinet_tf.metrics.person import paint_by_parsing

    painted = paint_by_parsing(pairs["source_image"], pairs["source_parsing"], parsing)
    paint = _person_l1(painted, pairs)
    # Copying the source puts the wall where the target person is, so inside the person a flat
    # grey picture, what an untrained generator draws, beats copy-the-source too; over the whole
    # picture grey is far worse (no wall). The model must beat copy-the-source on both and grey
    # inside the person. Measured on these 12 pairs (0..255), the shipped demo (the 'appearance'
    # recipe: person weight 10, 22,000 steps, then 11,000 with the straight-through clamp,
    # 2026-12-07): person 23.2, whole 13.1, background 9.7; copy 65.5 / 25.6; grey 50.7;
    # paint-by-parsing with the demo's own parsing 26.3, whole 10.2, background 4.8 (true
    # parsing 20.8); no picture with a stray mark (at least STRAY_MIN_PIXELS stray pixels). The
    # demo before it (weight 4 in the joint phase, no fine-tune) scored person 24.1, background
    # 8.1, and had a stray mark in 2 of the 12 pictures (19% of the 1,200 held-out ones; this
    # demo 1.6%); the plain-L1 one person 37.7. The goal, <= 0.8x paint-by-parsing inside
    # the person, is not met (0.88x here: docs/results/appearance.md); the paint bar guards
    # against falling back towards the baseline, the background bar against a wider halo (2.5x
    # since this demo, whose halo is wider than its predecessor's 1.7x), the stray bar against
    # the marks coming back.
    from pinet_tf.metrics.person import background_l1

    background, paint_background = (
        float(np.nanmean(background_l1(im, pairs["target_image"], pairs["target_parsing"])))
        for im in (images, painted))
    assert background < 2.5 * paint_background, (background, paint_background)
    from pinet_tf.metrics.person import STRAY_MIN_PIXELS, stray_pixels

    marked = stray_pixels(images, pairs["target_image"], pairs["target_parsing"])
    assert (marked >= STRAY_MIN_PIXELS).sum() <= 1, marked
    assert model < 0.8 * copy and whole < 0.8 * whole_copy and model < 0.85 * grey \
        and model < 0.95 * paint, \
        f"person-region L1 {model:.1f} vs copy-the-source {copy:.1f}, flat grey {grey:.1f}, " \
        f"paint-by-parsing {paint:.1f}; whole picture {whole:.1f} vs copy {whole_copy:.1f}"


def test_readme_walk_through_uses_the_demo_and_shows_the_person(tmp_path, monkeypatch, capsys):
    """The README's own-photo command as written (no --model) on the shipped examples."""
    from pinet_tf.cli import main
    from tests.inference.test_examples import _make_sample_module, _readme_command

    argv = _readme_command("transfer")
    assert "--model" not in argv
    out = str(tmp_path / "result.png")
    argv[argv.index("--out") + 1] = out
    monkeypatch.chdir(ROOT)
    assert main(argv) == 0
    assert demo.NOTICE in capsys.readouterr().err
    result = np.asarray(Image.open(out)).astype(float)
    target = np.asarray(Image.open(os.path.join(EX, "target.png"))).astype(float)
    source = np.asarray(Image.open(os.path.join(EX, "person.png"))).astype(float)
    person = _make_sample_module().sample("target")[1] > 0

    def l1(picture):
        return np.abs(picture - target)[person].mean()

    model, grey, copy = l1(result), l1(np.full_like(target, 127.5)), l1(source)
    # The shipped demo ('appearance' recipe, 64x44, 22,000 + 11,000 steps, 2026-12-07) reaches
    # 19.3 here (grey 52.0, copy 57.8); the demos before it 20.9 (22,000 steps, weight 4 in the
    # joint phase) and 32.9 (11,000 steps), the earlier 128x88 demo 47.2, the tiny recipe's own
    # run 38.9 (test_examples.py).
    assert model < 0.6 * grey and model < 0.6 * copy, (model, grey, copy)


# -- round trip and bad files (a random-weight tiny generator; no training) ----------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run directory (config.json + generator.weights.h5) of a tiny generator whose BatchNorm
    statistics are not the initial 0 / 1, so that every kind of tensor is checked."""
    from pinet_tf.config import ModelConfig
    from pinet_tf.models import build_generator
    from pinet_tf.models.io import RUN_CONFIG, RUN_WEIGHTS, save_weights_atomic

    cfg = ModelConfig.tiny()
    generator = build_generator(cfg)
    rng = np.random.default_rng(0)
    for v in generator.weights:
        if "moving_mean" in v.path:
            v.assign(rng.normal(0, 0.1, v.shape).astype(np.float32))
        elif "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 2.0, v.shape).astype(np.float32))
    run = tmp_path_factory.mktemp("run")
    cfg.save(str(run / RUN_CONFIG))
    save_weights_atomic(generator, str(run / RUN_WEIGHTS))
    return str(run)


@pytest.fixture(scope="module")
def tiny_demo(tiny_run, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("demo"))
    demo.write_demo(tiny_run, {"what": "test"}, folder)
    return folder


def _inputs(h, w, n=2):
    from pinet_tf.datasets.synthetic import sample

    people = [sample(1, i, pose, h, w) for i in range(n) for pose in (0, 1)]
    src, tgt = people[0::2], people[1::2]
    return (np.stack([p[0] for p in src]), np.stack([p[1] for p in src]),
            np.stack([p[2] for p in src]).astype(np.float32),
            np.stack([p[2] for p in tgt]).astype(np.float32))


def test_round_trip_from_a_run_equals_the_run_within_float16(tiny_run, tiny_demo):
    from pinet_tf.models.io import load_generator
    from pinet_tf.models.transfer import pose_inputs

    original, cfg = load_generator(tiny_run)
    loaded, loaded_cfg = demo.load_demo(tiny_demo)
    assert loaded_cfg == cfg
    names = [v.path for v in original.weights]
    assert names == [v.path for v in loaded.weights]
    for a, b in zip(original.weights, loaded.weights):  # exactly the float16 rounding
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a).astype(np.float16)
                                      .astype(np.float32), err_msg=a.path)
    manifest = demo.read_manifest(tiny_demo)
    assert manifest["what"] == "test" and manifest["weights"]["tensors"] == len(names)
    assert manifest["weights"]["parameters"] == sum(int(np.prod(v.shape)) for v in
                                                    original.weights)
    with open(os.path.join(tiny_demo, demo.CONFIG)) as f:
        assert json.load(f)["name"] == "tiny"

    inputs = pose_inputs(cfg, *_inputs(*cfg.image_size))
    ours, theirs = loaded(inputs, training=False), original(inputs, training=False)
    # float16 keeps 11 significant bits (relative 4.9e-4 per weight); measured on this model:
    # image max difference 5.5e-5 (outputs' mean magnitude 0.057), logits 4.1e-5 (0.11).
    for key in ("image", "parsing_logits"):
        a, b = np.asarray(ours[key]), np.asarray(theirs[key])
        np.testing.assert_allclose(a, b, rtol=0, atol=5e-3 * np.abs(b).max(), err_msg=key)
        assert not np.array_equal(a, b)  # the weights did go through float16


def test_same_weights_write_the_same_bytes(tiny_run, tiny_demo, tmp_path):
    again = str(tmp_path / "again")
    demo.write_demo(tiny_run, {"what": "test"}, again)
    with open(os.path.join(tiny_demo, demo.WEIGHTS), "rb") as a, \
            open(os.path.join(again, demo.WEIGHTS), "rb") as b:
        assert a.read() == b.read()


def _copy(tiny_demo, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_demo, folder)
    return folder


def _one_line(error):
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_or_corrupted_weights_fail_in_one_line(tiny_demo, tmp_path):
    folder = _copy(tiny_demo, tmp_path)
    weights = os.path.join(folder, demo.WEIGHTS)
    with open(weights, "r+b") as f:  # one flipped byte in the middle
        f.seek(os.path.getsize(weights) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError) as e:
        demo.load_demo(folder)
    assert f"{weights}: sha256 " in _one_line(e) and demo.REGENERATE in str(e.value)

    with open(weights, "r+b") as f:  # truncated (a partly copied file)
        f.truncate(1000)
    with pytest.raises(ValueError) as e:
        demo.load_demo(folder)
    assert "differs from MANIFEST.json" in _one_line(e)

    os.unlink(weights)
    with pytest.raises(FileNotFoundError) as e:
        demo.load_demo(folder)
    assert f"{weights} is missing" in _one_line(e) and "--model RUN" in str(e.value)

    os.unlink(os.path.join(folder, demo.MANIFEST))
    with pytest.raises(FileNotFoundError) as e:
        demo.load_demo(folder)
    assert "MANIFEST.json is missing" in _one_line(e)


def test_weights_of_another_config_are_refused_by_tensor(tiny_demo, tmp_path):
    from pinet_tf.config import ModelConfig

    folder = _copy(tiny_demo, tmp_path)
    ModelConfig.small().save(os.path.join(folder, demo.CONFIG))   # same tensors, wider
    with pytest.raises(ValueError) as e:
        demo.load_demo(folder)
    assert "tensor gp_gc1/conv/kernel has shape" in _one_line(e) and "'small' needs" in \
        str(e.value)

    from pinet_tf.inference.demo import _write_npz
    weights = os.path.join(folder, demo.WEIGHTS)
    with np.load(weights) as npz:
        arrays = {n: npz[n] for n in npz.files if n != "gi_gc17/bn/beta"}
    _write_npz(weights, arrays)
    manifest = demo.read_manifest(folder)
    manifest["weights"]["sha256"] = demo.sha256_file(weights)
    with open(os.path.join(folder, demo.MANIFEST), "w") as f:
        json.dump(manifest, f)
    ModelConfig.tiny().save(os.path.join(folder, demo.CONFIG))
    with pytest.raises(ValueError) as e:
        demo.load_demo(folder)
    assert "gi_gc17/bn/beta missing (1 missing, 0 unexpected" in _one_line(e)


# -- the verbs default to the demo model --------------------------------------------------------

@pytest.fixture
def person(tmp_path):
    from tests.inference.people import write_person

    source, _ = write_person(tmp_path, "source", 50, 40, seed=1)
    target, _ = write_person(tmp_path, "target", 50, 40, seed=1, shift=0.08)
    return ["--source", source["image"], "--source-keypoints", source["keypoints"],
            "--source-parsing", source["parsing"], "--target-keypoints", target["keypoints"]]


def test_transfer_and_gates_without_model_use_the_demo(person, tiny_demo, tmp_path,
                                                       monkeypatch, capsys):
    from pinet_tf.cli import main

    monkeypatch.setattr(demo, "DEMO_DIR", tiny_demo)
    out = str(tmp_path / "result.png")
    assert main(["transfer", *person, "--out", out]) == 0
    err = capsys.readouterr().err
    assert demo.NOTICE in err and "--model RUN" in demo.NOTICE
    assert np.asarray(Image.open(out)).shape == (50, 40, 3)
    assert main(["gates", *person, "--out", str(tmp_path / "gates.png")]) == 0
    assert demo.NOTICE in capsys.readouterr().err
    assert os.path.isfile(tmp_path / "gates.png")


def test_transfer_with_a_broken_demo_fails_in_one_line(person, tmp_path, monkeypatch, capsys):
    from pinet_tf.cli import main

    empty = tmp_path / "no-demo"
    empty.mkdir()
    monkeypatch.setattr(demo, "DEMO_DIR", str(empty))
    out = tmp_path / "result.png"
    assert main(["transfer", *person, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pinet-tf transfer: error: built-in demo model: ")
    assert "MANIFEST.json is missing" in err[-1] and not out.exists()


# -- the regeneration command (benchmarks/demo_model.py) ----------------------------------------

def _smoke_run(tiny_run, tmp_path, **changes):
    """`tiny_run` with the train_config.json the quality benchmark's smoke recipe writes."""
    from benchmarks.quality import RECIPES

    recipe = RECIPES["smoke"]
    run = tmp_path / "runs" / "gan"
    shutil.copytree(tiny_run, run)
    train_config = {"steps": [int(s) for s in recipe.steps.split(",")],
                    "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
                    "gan_weight": recipe.gan_weight, "perceptual_weight": 0.0,
                    "seed": recipe.seed, **changes}
    with open(run / "train_config.json", "w") as f:
        json.dump(train_config, f)
    with open(str(run) + ".train_seconds.json", "w") as f:
        json.dump({"train_seconds": 12.5}, f)
    return str(run)


def test_demo_model_command_writes_a_loadable_described_model(tiny_run, tmp_path):
    from benchmarks.demo_model import main

    run, out = _smoke_run(tiny_run, tmp_path), str(tmp_path / "demo")
    assert main(["--run", run, "--recipe", "smoke", "--out", out]) == 0
    manifest = demo.read_manifest(out)
    assert manifest["recipe"]["name"] == "smoke" and manifest["train_seconds"] == 12.5
    assert manifest["training_command"].startswith("pinet-tf train --config tiny --data "
                                                   "RECORDS --out RUN --steps 2,2,2")
    assert "--gan-weight 1.0" in manifest["training_command"]
    assert manifest["data"]["command"] == ("pinet-tf synth --out DATA --identities 12 "
                                           "--poses-per-identity 2 --size 64x44 --seed 0")
    assert manifest["data"]["held_out_identities"] == [10, 11]
    assert manifest["regenerate"] == ("python -m benchmarks.quality --recipe smoke --work "
                                      "/tmp/quality --demo")
    assert manifest["weights"]["sha256"] == demo.sha256_file(os.path.join(out, demo.WEIGHTS))
    generator, cfg = demo.load_demo(out)
    assert cfg.name == "tiny" and len(generator.weights) == manifest["weights"]["tensors"]


def test_demo_model_command_refuses_another_recipe_and_writes_nothing(tiny_run, tmp_path,
                                                                     capsys):
    from benchmarks.demo_model import main

    run, out = _smoke_run(tiny_run, tmp_path, batch_size=8), tmp_path / "demo"
    with pytest.raises(SystemExit) as e:
        main(["--run", run, "--recipe", "smoke", "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("not the 'smoke' recipe's 'gan' run: batch_size 8 (recipe: 2)")
    assert "\n" not in err and not out.exists()
    with pytest.raises(SystemExit):
        main(["--run", run, "--recipe", "small", "--out", str(out)])   # a tiny run is not small
    assert "not a run of the 'small' recipe (config 'tiny'" in capsys.readouterr().err
    assert not out.exists()
    # the joint phase's person weight is part of the recipe too (the smoke recipe's is 1)
    run = _smoke_run(tiny_run, tmp_path / "joint", l1_person_weight_joint=4.0)
    with pytest.raises(SystemExit):
        main(["--run", run, "--recipe", "smoke", "--out", str(out)])
    assert capsys.readouterr().err.strip().endswith(
        "run: l1_person_weight_joint 4.0 (recipe: 1.0)")
    assert not out.exists()


def test_demo_model_of_a_recipe_with_a_fine_tune_checks_both_runs(tiny_run, tmp_path,
                                                                   monkeypatch, capsys):
    """A recipe with `fine_tune_args` (the 'appearance' recipe): the run is the fine-tune, found
    against the second command, and the run it started from (its init_weights, here relative to
    the runs' folder) against the first; the manifest gives both commands."""
    import dataclasses

    from benchmarks.demo_model import main
    from benchmarks.quality_recipes import RECIPES

    monkeypatch.setitem(RECIPES, "smoke_ft", dataclasses.replace(RECIPES["smoke"], fine_tune_args=(
        "--steps", "0,0,3", "--batch-size", "2", "--lr", "0.0001", "--decay-steps", "3",
        "--gan-weight", "0", "--seed", "1", "--output-clamp", "straight_through")))
    first = _smoke_run(tiny_run, tmp_path)
    run, out = tmp_path / "runs" / "gan_tuned", str(tmp_path / "demo")
    shutil.copytree(first, run)

    def tune(clamp="straight_through", **changes):
        with open(run / "config.json") as f:
            config = json.load(f)
        with open(run / "config.json", "w") as f:
            json.dump({**config, "output_clamp": clamp}, f)
        with open(run / "train_config.json", "w") as f:
            json.dump({"steps": [0, 0, 3], "batch_size": 2, "learning_rate": 1e-4,
                       "decay_steps": 3, "gan_weight": 0.0, "perceptual_weight": 0.0,
                       "seed": 1, "init_weights": "gan", **changes}, f)

    tune()
    assert main(["--run", str(run), "--recipe", "smoke_ft", "--out", out]) == 0
    manifest = demo.read_manifest(out)
    first_command, command = manifest["training_command"].split(" && ")
    assert first_command.startswith("pinet-tf train --config tiny --data RECORDS --out RUN_first")
    assert command.startswith("pinet-tf train --init-weights RUN_first --data RECORDS --out RUN "
                              "--steps 0,0,3")
    assert manifest["first_train_config"]["steps"] == [2, 2, 2]
    assert manifest["train_config"]["init_weights"] == "gan"
    shutil.rmtree(out)
    for changes, problem in (({"clamp": "hard"}, "output_clamp hard (recipe: straight_through)"),
                             ({"learning_rate": 1e-3}, "learning_rate 0.001 (recipe: 0.0001)"),
                             ({"init_weights": None}, "has no init_weights"),
                             ({"init_weights": "gone"}, "the run it was fine-tuned from, gone, "
                                                        "is not found")):
        tune(**changes)
        with pytest.raises(SystemExit):
            main(["--run", str(run), "--recipe", "smoke_ft", "--out", out])
        err = capsys.readouterr().err.strip()
        assert problem in err and "\n" not in err and not os.path.exists(out), err
    tune()  # the run it started from is checked too
    _smoke_run(tiny_run, tmp_path / "other", batch_size=8)
    shutil.rmtree(first)
    shutil.copytree(tmp_path / "other" / "runs" / "gan", first)
    with pytest.raises(SystemExit):
        main(["--run", str(run), "--recipe", "smoke_ft", "--out", out])
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{first}: not the 'smoke_ft' recipe's 'gan' run: batch_size 8 "
                        f"(recipe: 2)") and not os.path.exists(out), err
