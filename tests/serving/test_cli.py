"""`pinet-tf serve` and `pinet-tf client`: safe defaults, one-line refusals before any work
(port in use or out of range, a version folder as base path, a missing serving extra), and the
client verb's result equal to the local call."""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import pinet_tf.cli
from pinet_tf.serving import cli as serving_cli
from pinet_tf.serving.models import ModelManager
from tests.serving.conftest import run_local


@pytest.fixture
def main(monkeypatch, capsys):
    """pinet-tf's main with only the serving verbs; -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(pinet_tf.cli, "VERB_MODULES", ["pinet_tf.serving.cli"])
    loads = []
    monkeypatch.setattr(ModelManager, "start", lambda self: loads.append(self))

    def run(argv):
        code = pinet_tf.cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err, loads
    return run


def test_serve_binds_loopback_by_default():
    import argparse
    parser = argparse.ArgumentParser()
    serving_cli.register(parser.add_subparsers())
    assert parser.parse_args(["serve", "--model-base-path", "x"]).host == "127.0.0.1"


def _one_line(err, text):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert text in err, err


def test_serve_refusals_are_one_line_before_loading(main, base, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err, loads = main(["serve", "--model-base-path", base, "--port", str(port)])
        assert code == 2
        _one_line(err, f"pinet-tf serve: error: cannot listen on 127.0.0.1:{port} (gRPC)")
        code, _, err, loads = main(["serve", "--model-base-path", base, "--port", "0",
                                    "--rest-port", str(port)])
        assert code == 2
        _one_line(err, f"cannot listen on 127.0.0.1:{port} (REST): Address already in use")
    cases = [
        (["--port", "70000"], "--port 70000 is out of range 0..65535"),
        (["--port", "0", "--rest-port", "-1"], "--rest-port -1 is out of range 0..65535"),
    ]
    for extra, text in cases:
        code, _, err, _ = main(["serve", "--model-base-path", base] + extra)
        assert code == 2
        _one_line(err, text)
    version = f"{base}/1"
    code, _, err, _ = main(["serve", "--model-base-path", version, "--port", "0"])
    assert code == 2
    _one_line(err, f"{version} is a version folder (it holds saved_model.pb); pass its parent: "
                   f"--model-base-path {base}")
    code, _, err, _ = main(["serve", "--model-base-path", str(tmp_path / "nope")])
    assert code == 2
    _one_line(err, "nope: not found; expected a folder holding <version>/saved_model.pb")
    assert loads == []  # no refusal loaded a model


@pytest.mark.parametrize("missing", ["grpc", "tensorflow_serving.apis.prediction_service_pb2_grpc"])
@pytest.mark.parametrize("verb", ["serve", "client"])
def test_missing_serving_extra_is_one_line(main, monkeypatch, base, tmp_path, missing, verb):
    monkeypatch.setitem(sys.modules, missing, None)
    argv = {"serve": ["serve", "--model-base-path", base, "--port", "0"],
            "client": ["client", "--server", "127.0.0.1:1", "--source", "s.png",
                       "--source-keypoints", "s.json", "--source-parsing", "p.png",
                       "--target-keypoints", "t.json", "--out", str(tmp_path / "o.png")]}[verb]
    code, out, err, loads = main(argv)
    assert code == 2 and out == "" and loads == []
    assert err == f"pinet-tf {verb} needs the serving extra: pip install -e \".[serving]\"\n"


def test_client_does_not_import_the_server():
    code = ("import sys, pinet_tf.serving.client; "
            "print(sorted(m for m in sys.modules if m.startswith('pinet_tf.serving')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert eval(out) == ["pinet_tf.serving", "pinet_tf.serving.client", "pinet_tf.serving.core"]


def test_client_verb_writes_the_served_result(server, local, inputs, tmp_path, capsys):
    import argparse

    paths = {"source": tmp_path / "s.png", "parsing": tmp_path / "p.png",
             "skp": tmp_path / "s.json", "tkp": tmp_path / "t.npy", "out": tmp_path / "o.png"}
    Image.fromarray(inputs["source_image"][0]).save(paths["source"])
    Image.fromarray(inputs["source_parsing"][0]).save(paths["parsing"])
    paths["skp"].write_text(json.dumps({"keypoints": inputs["source_keypoints"][0].tolist()}))
    np.save(paths["tkp"], inputs["target_keypoints"][0])
    parser = argparse.ArgumentParser()
    serving_cli.register(parser.add_subparsers())
    args = parser.parse_args([
        "client", "--server", f"127.0.0.1:{server.port}", "--source", str(paths["source"]),
        "--source-parsing", str(paths["parsing"]), "--source-keypoints", str(paths["skp"]),
        "--target-keypoints", str(paths["tkp"]), "--out", str(paths["out"])])
    assert args.func(args) == 0
    expected = run_local(local, "serving_default", {k: v[:1] for k, v in inputs.items()})
    np.testing.assert_array_equal(np.asarray(Image.open(paths["out"])), expected["image"][0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "p.png", "s.json", "s.png",
                                                          "t.npy"]  # no temporary left
    # A picture of the wrong size is refused before any request, naming both sizes.
    Image.fromarray(inputs["source_image"][0][:32]).save(paths["source"])
    with pytest.raises(ValueError, match="the model takes 64x44 images"):
        args.func(args)


def test_client_reads_every_keypoint_format_of_the_shared_reader(server, local, inputs, tmp_path):
    """OpenPose JSON for the source, an annotation CSV row for the target (formats the old
    client refused), the parsing written too, and the help naming the reader's formats."""
    import argparse

    from pinet_tf.datasets import patn
    from pinet_tf.utils.keypoint_files import FORMATS_HELP

    arrays = {k: v[:1].copy() for k, v in inputs.items()}
    for key in ("source_keypoints", "target_keypoints"):  # integers: the CSV holds integers
        arrays[key] = np.round(arrays[key]).astype(np.float32)
    arrays["source_keypoints"][0, 3] = -1.0  # one missing point, confidence 0 in OpenPose
    Image.fromarray(arrays["source_image"][0]).save(tmp_path / "s.png")
    Image.fromarray(arrays["source_parsing"][0]).save(tmp_path / "p.png")
    triples = []
    for y, x in arrays["source_keypoints"][0].tolist():
        triples += [0.0, 0.0, 0.0] if y < 0 else [x, y, 0.9]
    (tmp_path / "s.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": triples}]}))
    patn.write_annotations(str(tmp_path / "a.csv"),
                           [("t.jpg", arrays["target_keypoints"][0].astype(int))])
    parser = argparse.ArgumentParser()
    serving_cli.register(parser.add_subparsers())
    client_parser = parser._subparsers._group_actions[0].choices["client"]
    assert FORMATS_HELP in " ".join(client_parser.format_help().split())
    out, out_parsing = tmp_path / "out" / "o.png", tmp_path / "out" / "op.png"
    args = parser.parse_args([
        "client", "--server", f"127.0.0.1:{server.port}", "--source", str(tmp_path / "s.png"),
        "--source-parsing", str(tmp_path / "p.png"), "--source-keypoints", str(tmp_path / "s.json"),
        "--target-keypoints", f"{tmp_path / 'a.csv'}#t.jpg", "--out", str(out),
        "--out-parsing", str(out_parsing)])
    assert args.func(args) == 0
    expected = run_local(local, "serving_default", arrays)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected["image"][0])
    np.testing.assert_array_equal(np.asarray(Image.open(out_parsing)), expected["parsing"][0])
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.png", "op.png"]


def test_client_refuses_an_unwritable_out_before_any_request(main, tmp_path):
    (tmp_path / "file").write_text("x")
    argv = ["client", "--server", "127.0.0.1:1", "--source", "s.png", "--source-keypoints",
            "s.json", "--source-parsing", "p.png", "--target-keypoints", "t.json"]
    code, out, err, _ = main(argv + ["--out", str(tmp_path / "file" / "o.png")])
    assert code == 2 and out == ""
    _one_line(err, "file/o.png: cannot write the output picture")
    code, out, err, _ = main(argv + ["--out", str(tmp_path / "o.png"), "--out-parsing",
                                     str(tmp_path / "o.jpg")])
    assert code == 2
    _one_line(err, "--out-parsing must name a .png file")
