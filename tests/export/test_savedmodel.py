"""Versioned SavedModel export: layout, size, parity of every signature with the Keras model."""

import os

import numpy as np
import pytest
import tensorflow as tf

from pinet_tf.config import ModelConfig
from pinet_tf.export import savedmodel
from pinet_tf.models.texture import texture_transfer
from tests.serving.tiny_export import batch, model_inputs, tiny_export


@pytest.fixture(scope="module")
def exp(request, tmp_path_factory):
    return tiny_export(request, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(exp):
    return tf.saved_model.load(exp.path)  # kept alive: signatures reference its variables


@pytest.fixture(scope="module")
def inputs(exp):
    return batch(exp.cfg, 3, seed=11)


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def test_layout_config_and_note(exp):
    assert os.listdir(exp.base) == ["1"]  # no temporary folder left behind
    for name in ("saved_model.pb", "variables", "config.json", "assets/INPUTS.txt"):
        assert os.path.exists(os.path.join(exp.path, name)), name
    assert savedmodel.load_export_config(exp.path) == exp.cfg
    note = open(os.path.join(exp.path, "assets", "INPUTS.txt")).read()
    h, w = exp.cfg.image_size
    for text in ("(y, x)", "-1 = missing", f"[B,{h},{w},3]", "texture_transfer", "11 hat"):
        assert text in note


def test_inputs_note_is_generated_from_the_input_table(monkeypatch):
    """Every InputSpec of SIGNATURE_INPUTS has its line (name, dtype, batched shape in the
    model's frame, rule), under its signature; a spec added to the table appears by itself."""
    import dataclasses

    from pinet_tf.export.signatures import ALIASES, SIGNATURE_INPUTS, InputSpec

    cfg = dataclasses.replace(ModelConfig.preset("tiny"), image_height=48, image_width=32)
    lines = savedmodel.inputs_note(cfg).splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("  ") and line[2] != " "]
    assert len(headers) == len(SIGNATURE_INPUTS)
    ends = headers[1:] + [lines.index("", headers[-1])]
    for (signature, specs), start, end in zip(SIGNATURE_INPUTS.items(), headers, ends):
        alias = [a for a, target in ALIASES.items() if target == signature]
        assert lines[start].split() == (alias + ["="] if alias else []) + [signature]
        rows = [line.split(None, 3) for line in lines[start + 1:end]
                if line.startswith("    ") and not line.startswith("    ->")]
        rows = [r for r in rows if len(r) == 4 and r[1] in ("uint8", "float32")]
        shapes = {"source_image": "[B,48,32,3]", "source_parsing": "[B,48,32]",
                  "source_keypoints": "[B,18,2]", "regions": "[B,12]"}
        assert [r[0] for r in rows] == [s.name for s in specs]
        for row, spec in zip(rows, specs):
            assert row[1:] == [spec.dtype, "[" + ",".join(
                ["B"] + [str(d) for d in spec.example_shape((48, 32))]) + "]", spec.rule]
            assert row[2] == shapes.get(spec.name, row[2])
    extra = InputSpec("source_depth", "float32", ("H", "W", 1), rule="metres, >= 0")
    monkeypatch.setitem(SIGNATURE_INPUTS, "pose_transfer", SIGNATURE_INPUTS["pose_transfer"]
                        + (extra,))
    assert "    source_depth      float32 [B,48,32,1]   metres, >= 0" in \
        savedmodel.inputs_note(cfg).splitlines()


def test_variables_stored_once(exp):
    variables = _dir_bytes(os.path.join(exp.path, "variables"))
    # ExportArchive stored every variable twice (ratio ~2); the module tracks them once.
    assert exp.weights_bytes <= variables <= 1.05 * exp.weights_bytes


def test_signature_names_and_specs(loaded, exp):
    h, w = exp.cfg.image_size
    assert set(loaded.signatures) == {"serving_default", "pose_transfer", "texture_transfer"}
    specs = loaded.signatures["serving_default"].structured_input_signature[1]
    assert specs["source_image"].shape.as_list() == [None, h, w, 3]
    assert specs["source_image"].dtype == tf.uint8
    assert specs["source_parsing"].dtype == tf.uint8
    assert specs["target_keypoints"].shape.as_list() == [None, 18, 2]
    tex = loaded.signatures["texture_transfer"].structured_input_signature[1]
    assert set(tex) == {"source_image", "source_parsing", "source_keypoints", "condition_image",
                        "condition_parsing", "regions"}
    assert tex["regions"].shape.as_list() == [None, 12]


def test_pose_transfer_matches_keras(loaded, exp, inputs):
    ref = exp.generator(model_inputs(exp.cfg, inputs), training=False)
    ref_image = np.asarray(tf.round((tf.clip_by_value(ref["image"], -1, 1) + 1) * 127.5))
    assert ref_image.std() > 5  # activations are O(1): the comparison is not vacuous
    for name in ("serving_default", "pose_transfer"):
        out = loaded.signatures[name](**inputs)
        assert out["image"].dtype == tf.uint8 and out["parsing"].dtype == tf.uint8
        diff = np.abs(out["image"].numpy().astype(np.int32) - ref_image.astype(np.int32))
        assert diff.max() <= 1, name
        # Parsing = argmax of the logits; a label may differ only where the top two are tied.
        logits = np.asarray(ref["parsing_logits"])
        expected = logits.argmax(-1)
        differs = out["parsing"].numpy() != expected
        top2 = np.sort(logits, -1)[..., -2:]
        assert np.all((top2[..., 1] - top2[..., 0])[differs] < 1e-4), name
        assert differs.mean() < 0.001


def test_texture_transfer_matches_keras(loaded, exp, inputs):
    cond = batch(exp.cfg, 3, seed=12)
    regions = np.zeros((3, 12), np.uint8)
    regions[:, 2] = 1  # upper clothes
    regions[1, 4] = 1  # and pants for the second example
    out = loaded.signatures["texture_transfer"](
        source_image=inputs["source_image"], source_parsing=inputs["source_parsing"],
        source_keypoints=inputs["source_keypoints"], condition_image=cond["source_image"],
        condition_parsing=cond["source_parsing"], regions=regions)["image"].numpy()
    ref = texture_transfer(exp.generator, exp.cfg, inputs["source_image"],
                           inputs["source_parsing"], inputs["source_keypoints"],
                           cond["source_image"], cond["source_parsing"], regions).numpy()
    assert np.abs(out.astype(np.int32) - ref.astype(np.int32)).max() <= 1
    replaced = regions[np.arange(3)[:, None, None], inputs["source_parsing"]].astype(bool)
    assert replaced.any() and (~replaced).any()
    np.testing.assert_array_equal(out[~replaced], inputs["source_image"][~replaced])
    assert np.abs(out[replaced].astype(int) - inputs["source_image"][replaced]).mean() > 1


def test_batchnorm_runs_in_inference_mode(loaded, inputs):
    # With batch statistics an example's output would depend on the rest of its batch.
    fn = loaded.signatures["pose_transfer"]
    together = fn(**inputs)["image"].numpy()
    alone = fn(**{k: v[1:2] for k, v in inputs.items()})["image"].numpy()
    assert np.abs(together[1:2].astype(int) - alone.astype(int)).max() <= 1


@pytest.mark.parametrize("field,value,message", [
    ("source_parsing", 12, "parsing labels must be 0..11"),
    ("target_keypoints", np.nan, "keypoints must be finite"),
])
def test_in_graph_checks(loaded, inputs, field, value, message):
    bad = {k: v.copy() for k, v in inputs.items()}
    bad[field].flat[5] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["serving_default"](**bad)


def test_in_graph_batch_check(loaded, inputs):
    bad = dict(inputs, target_keypoints=inputs["target_keypoints"][:2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="different batch size"):
        loaded.signatures["serving_default"](**bad)


def test_versions(tmp_path, monkeypatch):
    base = tmp_path / "m"
    assert savedmodel.next_version(str(base)) == 1
    for name in ("1", "7", "tmp", ".tmp-8-x"):
        os.makedirs(base / name)
    (base / "7" / "saved_model.pb").write_bytes(b"")
    assert savedmodel.next_version(str(base)) == 8
    assert savedmodel.list_versions(str(base)) == [7]  # 1 has no saved_model.pb
    with pytest.raises(ValueError, match="version 7 already exists"):
        savedmodel.export_saved_model(None, ModelConfig.tiny(), str(base), version=7)

    class Module(tf.Module):  # stands in for ServingModule: no tracing needed here
        def __init__(self, *args, **kwargs):
            super().__init__()

        def signatures(self):
            return {}

    def broken_save(obj, path, signatures=None):
        open(os.path.join(path, "saved_model.pb"), "wb").close()  # a partial write ...
        raise RuntimeError("disk full")  # ... then a failure
    monkeypatch.setattr(savedmodel, "ServingModule", Module)
    monkeypatch.setattr(savedmodel.tf.saved_model, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        savedmodel.export_saved_model(None, ModelConfig.tiny(), str(base))
    # Nothing half-written is left where a server would look.
    assert sorted(os.listdir(base)) == [".tmp-8-x", "1", "7", "tmp"]


def test_cli_export_from_weights_file(exp, tmp_path, capsys, monkeypatch):
    import pinet_tf.cli
    from pinet_tf.models.io import save_generator
    monkeypatch.setattr(pinet_tf.cli, "VERB_MODULES", ["pinet_tf.export.cli"])
    weights = str(tmp_path / "g.weights.h5")
    save_generator(exp.generator, exp.cfg, weights)
    base = tmp_path / "served"
    assert pinet_tf.cli.main(["export", "--weights", weights, "--out", str(base),
                              "--version", "3"]) == 0
    assert "exported" in capsys.readouterr().out
    assert savedmodel.list_versions(str(base)) == [3]
    assert savedmodel.load_export_config(str(base / "3")) == exp.cfg
    # The same weights, bit for bit, as the fixture's export of the same model.
    ours = tf.train.load_checkpoint(os.path.join(exp.path, "variables", "variables"))
    theirs = tf.train.load_checkpoint(str(base / "3" / "variables" / "variables"))
    names = [n for n in ours.get_variable_to_shape_map() if "generator_variables" in n]
    assert len(names) == len(exp.generator.variables)
    for name in names:
        np.testing.assert_array_equal(ours.get_tensor(name), theirs.get_tensor(name))
    assert pinet_tf.cli.main(["export", "--out", str(base)]) == 2  # neither --run nor --weights
    assert "exactly one of --run" in capsys.readouterr().err


def test_stale_temporary_exports_are_removed_by_the_next_export(tmp_path, monkeypatch):
    """A killed export leaves a hidden .tmp-* folder; the next export removes it once it is
    older than STALE_EXPORT_SECONDS (a younger one may be a live export's) and writes through
    pinet_tf.utils.atomic.atomic_claim."""
    import time

    from pinet_tf.utils import atomic
    base = tmp_path / "m"
    stale, live = base / ".tmp-3-killed", base / ".tmp-4-running"
    for folder in (stale, live):
        os.makedirs(folder / "variables")
        (folder / "saved_model.pb").write_bytes(b"half")
    old = time.time() - savedmodel.STALE_EXPORT_SECONDS - 60
    os.utime(stale, (old, old))
    used = []
    real = atomic.atomic_claim
    monkeypatch.setattr(savedmodel, "atomic_claim", lambda parent, names, **kw: used.append(
        parent) or real(parent, names, **kw))

    class Module(tf.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()

        def signatures(self):
            return {}
    monkeypatch.setattr(savedmodel, "ServingModule", Module)
    monkeypatch.setattr(savedmodel.tf.saved_model, "save",
                        lambda obj, path, signatures=None: open(
                            os.path.join(path, "saved_model.pb"), "wb").close())
    path = savedmodel.export_saved_model(None, ModelConfig.tiny(), str(base))
    assert path == str(base / "1") and used == [str(base)]
    assert sorted(os.listdir(base)) == [".tmp-4-running", "1"]
    assert sorted(os.listdir(path)) == ["assets", "config.json", "saved_model.pb"]


_RANGE = "--version must be an integer from 1 to 9223372036854775807 (TF-Serving's int64), got "


@pytest.mark.parametrize("argv,message", [
    (["--version", "0"], _RANGE + "0"),
    (["--version", "-3"], _RANGE + "-3"),
    (["--version", str(2 ** 63)], _RANGE + str(2 ** 63)),  # issue 29, class 4
    (["--version", "9" * 5000], _RANGE + "9" * 40),
])
def test_cli_export_bad_version_leaves_nothing(exp, tmp_path, capsys, monkeypatch, argv,
                                               message):
    import pinet_tf.cli
    from pinet_tf.models.io import save_generator
    monkeypatch.setattr(pinet_tf.cli, "VERB_MODULES", ["pinet_tf.export.cli"])
    weights = str(tmp_path / "g.weights.h5")
    save_generator(exp.generator, exp.cfg, weights)
    base = tmp_path / "served"
    assert pinet_tf.cli.main(["export", "--weights", weights, "--out", str(base)] + argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"pinet-tf export: error: {message}"
    assert not base.exists()  # not even the base folder
    with pytest.raises(ValueError, match="--version must be an integer from 1 to"):
        savedmodel.export_saved_model(exp.generator, exp.cfg, str(base), version=0)
    assert not base.exists()


def test_graph_checks_come_from_the_input_table(loaded, inputs):
    """Every range rule of SIGNATURE_INPUTS is an in-graph assert (regions 0/1 included)."""
    from pinet_tf.export.signatures import SIGNATURE_INPUTS, TEXTURE_TRANSFER
    ruled = {s.name for s in SIGNATURE_INPUTS[TEXTURE_TRANSFER] if s.high is not None}
    assert ruled == {"source_parsing", "condition_parsing", "regions"}
    regions = np.zeros((3, 12), np.uint8)
    regions[0, 3] = 2
    args = dict(source_image=inputs["source_image"], source_parsing=inputs["source_parsing"],
                source_keypoints=inputs["source_keypoints"],
                condition_image=inputs["source_image"],
                condition_parsing=inputs["source_parsing"], regions=regions)
    with pytest.raises(tf.errors.InvalidArgumentError, match="regions: regions must be 0 or 1"):
        loaded.signatures["texture_transfer"](**args)


# -- issue 29: versions claimed atomically, numbers bounded like TF-Serving's int64 ----------------
class _FakeModule(tf.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def signatures(self):
        return {}


def test_two_exports_to_one_base_at_once_get_two_versions(tmp_path, monkeypatch, caplog):
    """Export A picks version 1; while it writes, export B (to the same base) completes as
    version 1. A must not replace B's model: it takes version 2."""
    base = str(tmp_path / "m")
    calls = []

    def save(obj, path, signatures=None):
        calls.append(path)
        with open(os.path.join(path, "saved_model.pb"), "w") as f:
            f.write(f"model {len(calls)}")
        if len(calls) == 1:  # A is writing: B runs from start to end meanwhile
            assert savedmodel.export_saved_model(None, ModelConfig.tiny(), base) == \
                os.path.join(base, "1")
    monkeypatch.setattr(savedmodel, "ServingModule", _FakeModule)
    monkeypatch.setattr(savedmodel.tf.saved_model, "save", save)
    a = savedmodel.export_saved_model(None, ModelConfig.tiny(), base)
    assert a == os.path.join(base, "2")
    assert open(os.path.join(base, "1", "saved_model.pb")).read() == "model 2"  # B's, kept
    assert open(os.path.join(base, "2", "saved_model.pb")).read() == "model 1"  # A's
    assert sorted(os.listdir(base)) == ["1", "2"]
    # an explicit --version taken meanwhile is an error, and nothing is replaced
    calls.clear()

    def save_racing_3(obj, path, signatures=None):
        open(os.path.join(path, "saved_model.pb"), "w").write("mine")
        os.makedirs(os.path.join(base, "3"))
        open(os.path.join(base, "3", "saved_model.pb"), "w").write("theirs")
    monkeypatch.setattr(savedmodel.tf.saved_model, "save", save_racing_3)
    with pytest.raises(ValueError, match="version 3 of .* was taken by another export"):
        savedmodel.export_saved_model(None, ModelConfig.tiny(), base, version=3)
    assert open(os.path.join(base, "3", "saved_model.pb")).read() == "theirs"
    assert sorted(os.listdir(base)) == ["1", "2", "3"]


def test_version_folders_out_of_int64_are_ignored_with_a_log_line(tmp_path, caplog):
    base = tmp_path / "m"
    for name in ("2", str(2 ** 63), "9" * 200, "0"):
        os.makedirs(base / name)
        (base / name / "saved_model.pb").write_bytes(b"")
    with caplog.at_level("WARNING", logger="pinet_tf.serving"):
        assert savedmodel.list_versions(str(base)) == [2]
        assert savedmodel.next_version(str(base)) == 3
    lines = [r.getMessage() for r in caplog.records]
    assert any(str(2 ** 63) in ln and "integers 1..9223372036854775807" in ln for ln in lines)
    assert all("\n" not in ln for ln in lines)
