import errno
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from pinet_tf import cli
from pinet_tf.utils import startup
from pinet_tf.cli import main, os_error_message
from pinet_tf.utils import extras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, *args, env=None, timeout=300):
    """`python -c code` with this checkout first on the path; returns the CompletedProcess."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_summary_prints_official_count(capsys):
    assert main(["summary", "--config", "official"]) == 0
    out = capsys.readouterr().out
    assert "20,407,934" in out and "10,778,737" in out and "9,629,197" in out
    assert "3,975,424" in out and "3,928,384" in out
    # The ablation variants of paper Table 3 at the official widths (G_p, G_i, total).
    rows = {line.split()[0]: line.split()[2::2] for line in out.splitlines()
            if line.strip().startswith(("full ", "vanilla ", "one_stage"))}
    assert rows == {"full": ["10,778,737", "9,629,197", "20,407,934"],
                    "vanilla": ["5,433,221", "4,858,250", "10,291,471"],
                    "one_stage": ["0", "9,591,565", "9,591,565"],
                    "one_stage+vanilla": ["0", "4,839,434", "4,839,434"]}


def test_unknown_verb_exits_with_usage():
    with pytest.raises(SystemExit) as e:
        main(["no-such-verb"])
    assert e.value.code == 2


def test_every_verb_handler_is_named_verb_command():
    """pinet_tf/cli.py's convention: verb `make-tfrecords` -> `make_tfrecords_command`."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = {verb: p.get_default("func").__name__ for verb, p in sub.choices.items()}
    assert len(names) >= 14
    assert names == {verb: verb.replace("-", "_") + "_command" for verb in names}


# -- fast, quiet start (#14.6) ---------------------------------------------------------------

HELP_EVERY_VERB = """
import contextlib, io, json, sys
import pinet_tf.cli as c
parser = c.build_parser()
verbs = sorted(next(a for a in parser._actions if a.dest == "command").choices)
helps = {}
for argv in [["--help"]] + [[v, "--help"] for v in verbs]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    helps[" ".join(argv)] = out.getvalue()
heavy = sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules)
print(json.dumps({"verbs": verbs, "heavy": heavy, "helps": helps}))
"""


def test_help_of_every_verb_imports_no_tensorflow():
    proc = run_python(HELP_EVERY_VERB)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["heavy"] == []
    # Every verb module registered its verbs, and each help is that verb's own.
    for verb in ("summary", "synth", "make-tfrecords", "train", "transfer", "texture",
                 "import-torch", "export", "export-tflite", "serve", "client", "evaluate"):
        assert verb in report["verbs"]
        assert f"usage: pinet-tf {verb}" in report["helps"][f"{verb} --help"]
    assert "--verbose" in report["helps"]["--help"]
    assert proc.stderr == ""


def _noise(text):
    return [line for line in text.splitlines() if startup.STARTUP_NOISE.search(line)]


def test_tensorflow_startup_noise_hidden_unless_verbose():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # What TensorFlow itself prints here when imported and asked for its devices.
    raw = run_python("import tensorflow as tf; tf.config.list_physical_devices()", env=env)
    assert raw.returncode == 0, raw.stderr
    verb = "import sys; from pinet_tf.cli import main; sys.exit(main(sys.argv[1:]))"
    quiet = run_python(verb, "summary", "--config", "tiny", env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "1,394,126" in quiet.stdout  # the verb did import TensorFlow and build the models
    assert _noise(quiet.stderr) == [], quiet.stderr
    assert quiet.stderr.strip() == ""
    verbose = run_python(verb, "--verbose", "summary", "--config", "tiny", env=env)
    assert verbose.returncode == 0, verbose.stderr
    # --verbose shows what TensorFlow prints on this machine (its kinds of lines, ours hidden).
    kinds = {startup.STARTUP_NOISE.search(line).group(0) for line in _noise(raw.stderr)}
    assert kinds <= {startup.STARTUP_NOISE.search(line).group(0) for line in _noise(verbose.stderr)}


def test_quiet_start_keeps_every_other_line():
    code = """
import os, sys
import pinet_tf.utils.startup as c
with c.filtered_stderr():
    os.write(2, b"I0000 00:00:1.5 1 port.cc:153] oneDNN custom operations are on. You may see\\n")
    os.write(2, b"E0000 00:00:1.5 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL\\n")
    os.write(2, b"E0000 00:00:1.5 1 something.cc:1] a real C++ error\\n")
    print("a Python warning", file=sys.stderr)
c.install_quiet_import()
import tensorflow as tf
tf.constant(1.0)
sys.exit("our own error after TensorFlow started")
"""
    proc = run_python(code)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "E0000 00:00:1.5 1 something.cc:1] a real C++ error", "a Python warning",
        "our own error after TensorFlow started"]


def test_quiet_litert_hides_the_converters_start_only_when_quiet():
    code = """
import os, sys, warnings
import pinet_tf.utils.startup as c
os.environ[c.ENV_VAR] = sys.argv[1]
with c.quiet_litert():
    os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, "
                b"output_inference_type: FLOAT32\\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    warnings.warn("    Warning: tf.lite.Interpreter is deprecated and is scheduled", UserWarning)
    warnings.warn("Warning: Enabling `experimental_preserve_all_tensors` with the BUILTIN")
    warnings.warn("another warning", UserWarning)
    os.write(2, b"ERROR: a real converter error\\n")
"""
    quiet = run_python(code, "1")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert "ERROR: a real converter error" in lines and any("another warning" in x for x in lines)
    assert not any("fully_quantize" in x or "XNNPACK" in x or "deprecated" in x
                   or "preserve_all_tensors" in x for x in lines), lines
    shown = run_python(code, "0")        # pinet-tf --verbose
    assert "fully_quantize" in shown.stderr and "XNNPACK" in shown.stderr
    assert "deprecated" in shown.stderr


def test_spawned_workers_of_a_quiet_start_are_quiet_too():
    code = """
import importlib, multiprocessing, sys
from pinet_tf.utils import startup
if __name__ == "__main__":
    with startup.quiet_start(True):  # what main() does; a worker imports pinet_tf, then TF
        p = multiprocessing.get_context("spawn").Process(
            target=importlib.import_module, args=("pinet_tf.models.generators",))
        p.start()
        p.join()
    sys.exit(p.exitcode)
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


# -- the extras check (#14.1) ----------------------------------------------------------------

EXTRA_CASES = """
import contextlib, io, json, sys, tempfile
from pinet_tf.cli import main
folder = tempfile.mkdtemp()
cases = {
    "serve": (["tensorflow_serving"], ["serve", "--model-base-path", folder]),
    "client": (["grpc"], ["client", "--server", "localhost:1", "--source", "s.png",
                          "--source-keypoints", "s.json", "--source-parsing", "p.png",
                          "--target-keypoints", "t.json", "--out", folder + "/o.png"]),
    "int8": (["ai_edge_litert"], ["export-tflite", "--saved-model", folder + "/1",
                                  "--quantize", "int8", "--out", folder + "/m.tflite"]),
}
results = {}
for name, (blocked, argv) in cases.items():
    saved = {m: sys.modules.get(m) for m in blocked}
    sys.modules.update({m: None for m in blocked})
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    for m, module in saved.items():
        if module is None:
            del sys.modules[m]
        else:
            sys.modules[m] = module
    results[name] = [code, err.getvalue(), "tensorflow" in sys.modules]
import os
results["written"] = os.listdir(folder)
print(json.dumps(results))
"""


def test_missing_extra_is_one_line_before_any_work():
    proc = run_python(EXTRA_CASES)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["serve"] == [2, 'pinet-tf serve needs the serving extra: '
                             'pip install -e ".[serving]"\n', False]
    assert r["client"] == [2, 'pinet-tf client needs the serving extra: '
                              'pip install -e ".[serving]"\n', False]
    assert r["int8"] == [2, 'pinet-tf export-tflite --quantize int8 needs the tflite extra: '
                            'pip install -e ".[tflite]"\n', False]
    assert r["written"] == []


def test_require_extra_passes_when_installed_and_names_unknown_extras():
    extras.require_extra("summary", "dev", "json", "os")
    with pytest.raises(extras.MissingExtraError, match=r'needs the torch extra: pip install -e '
                                                       r'"\.\[torch\]"') as e:
        extras.require_extra("parity", "torch", "no_such_module_pinet_tf")
    assert e.value.name == "no_such_module_pinet_tf"
    with pytest.raises(KeyError, match="unknown extra 'gpu'"):
        extras.require_extra("x", "gpu")


def test_setup_extras_match_the_extras_table():
    spec = importlib.util.spec_from_file_location("pinet_setup_probe", os.path.join(ROOT,
                                                                                    "setup.py"))
    import setuptools
    captured = {}
    real = setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        cwd = os.getcwd()
        os.chdir(ROOT)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    finally:
        os.chdir(cwd)
        setuptools.setup = real
    assert set(extras.EXTRAS) == set(captured["extras_require"])
    base = " ".join(captured["install_requires"]).lower()
    for modules in extras.EXTRAS.values():
        for m in modules:  # no extra's module is also in the base install
            assert m.replace("_", "-") not in base


BASE_INSTALL_IMPORTS = """
import importlib, json, pkgutil, sys
from pinet_tf.utils.extras import EXTRAS
blocked = [m for mods in EXTRAS.values() for m in mods if m != "grpc"]  # grpc: TF requires it
sys.modules.update({m: None for m in blocked})
import pinet_tf
failed = {}
for info in pkgutil.walk_packages(pinet_tf.__path__, "pinet_tf."):
    try:
        importlib.import_module(info.name)
    except ImportError as e:
        failed[info.name] = str(e)
print(json.dumps(failed))
"""

#: Modules that exist for an extra (what `require_extra` guards), allowed to need it.
EXTRA_MODULES = ("pinet_tf.serving.client", "pinet_tf.serving.server", "pinet_tf.serving.rest",
                 "pinet_tf.serving.grpc_service", "pinet_tf.datasets.tfds")


def test_base_install_imports_every_module_outside_the_extras():
    proc = run_python(BASE_INSTALL_IMPORTS)
    assert proc.returncode == 0, proc.stderr
    failed = {name: why for name, why in json.loads(proc.stdout).items()
              if not name.startswith(EXTRA_MODULES)}
    assert failed == {}


def test_stray_module_of_an_extra_gets_the_sentence(monkeypatch, capsys):
    def verb(args):
        raise ModuleNotFoundError("No module named 'scipy.special'", name="scipy.special")

    monkeypatch.setattr("pinet_tf.models.cli.summary_command", verb)
    assert main(["summary"]) == 2
    assert capsys.readouterr().err == ('pinet-tf summary needs scipy, from the dev extra: '
                                       'pip install -e ".[dev]"\n')

    def bug(args):
        raise ModuleNotFoundError("No module named 'pinet_tf.nowhere'", name="pinet_tf.nowhere")

    monkeypatch.setattr("pinet_tf.models.cli.summary_command", bug)
    with pytest.raises(ModuleNotFoundError):  # not an extra: a bug keeps its traceback
        main(["summary"])


# -- OS errors as sentences (#14.8) ----------------------------------------------------------

def _raised(fn):
    try:
        fn()
    except OSError as e:
        return e
    raise AssertionError("no OSError")


def test_os_errors_become_sentences_naming_the_path(tmp_path):
    folder, file = str(tmp_path), str(tmp_path / "a.txt")
    open(file, "w").close()
    missing = str(tmp_path / "missing.json")
    assert os_error_message(_raised(lambda: open(missing))) == \
        f"{missing}: no such file or directory"
    assert os_error_message(_raised(lambda: open(folder))) == \
        f"{folder} is a folder, a file was expected"
    assert os_error_message(_raised(lambda: os.listdir(file))) == \
        f"{file} is a file, a folder was expected"
    inside = os.path.join(file, "sub", "b.json")
    assert os_error_message(_raised(lambda: open(inside, "w"))) == \
        f"{file} is a file, a folder was expected (in {inside})"
    assert os_error_message(PermissionError(errno.EACCES, os.strerror(errno.EACCES), file)) == \
        f"{file}: permission denied"
    assert os_error_message(_raised(lambda: os.mkdir(folder))) == f"{folder} already exists"
    assert os_error_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), file)) == \
        f"{file}: no space left on device"
    assert os_error_message(_raised(lambda: os.rename(missing, file))) == \
        f"{missing} -> {file}: no such file or directory"
    # Our own messages (no errno) pass unchanged.
    assert os_error_message(FileNotFoundError(f"checkpoint not found: {missing}")) == \
        f"checkpoint not found: {missing}"


def test_main_prints_the_sentence_and_exits_2(monkeypatch, capsys, tmp_path):
    missing = str(tmp_path / "nowhere" / "weights.h5")
    monkeypatch.setattr("pinet_tf.models.cli.summary_command", lambda args: open(missing))
    assert main(["summary"]) == 2
    assert capsys.readouterr().err == \
        f"pinet-tf summary: error: {missing}: no such file or directory\n"


# -- CI reads the README's Quick start (#14.2) -----------------------------------------------

def _quickstart():
    spec = importlib.util.spec_from_file_location(
        "quickstart", os.path.join(ROOT, ".ci", "quickstart.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_quick_start_has_the_two_commands_ci_runs():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        commands = _quickstart().quick_start_commands(f.read())
    assert len(commands) == 2
    assert commands[0].startswith("pip install -e . && pinet-tf train ")
    assert "pytest" in commands[1]
    for n, command in enumerate(commands, 1):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, ".ci", "quickstart.py"),
                               os.path.join(ROOT, "README.md"), str(n)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout == command + "\n", proc.stderr


def test_quick_start_extraction_refuses_a_changed_block():
    q = _quickstart()
    text = ("# x\n```bash\nnot this\n```\n## Quick start\n\nSome words.\n\n```bash\npip a\n\n"
            "pytest b\n```\n\n```bash\nlater\n```\n## Models\n")
    assert q.quick_start_commands(text) == ["pip a", "pytest b"]
    with pytest.raises(ValueError, match="has 3 commands, expected 2"):
        q.quick_start_commands(text.replace("pytest b\n", "pytest b\nextra\n"))
    with pytest.raises(ValueError, match="no ```bash block"):
        q.quick_start_commands("## Quick start\ntext\n## Models\n```bash\na\nb\n```\n")
    with pytest.raises(ValueError, match="no '## Quick start' heading"):
        q.quick_start_commands("# nothing\n")
