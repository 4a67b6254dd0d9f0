"""`pinet-tf` command line: one verb per capability.

Each subpackage that offers verbs has a `cli.py` with `register(subparsers)`; this module only
collects them, so verbs stay beside the code they call and this file stays thin.

Conventions for a verb module:
- `register` imports nothing heavy: `pinet-tf --help` and `pinet-tf VERB --help` must not import
  TensorFlow (tests/test_cli.py checks every verb). Handlers import what they need inside.
- The handler of verb `make-tfrecords` is `make_tfrecords_command(args) -> int` (`VERB_command`,
  dashes as underscores), so it never shadows the library function it calls (`train`, `export`,
  `evaluate`, ...).
- A verb that needs an optional extra calls `pinet_tf.utils.extras.require_extra` on its first
  line, before any work.
- User errors are ValueError or OSError (a one-line message; `main` adds `pinet-tf VERB: error:`
  and exits 2, turning raw `[Errno N]` messages into sentences naming the path).

Start-up: TensorFlow's own start-up lines (oneDNN, CUDA stub, cuInit probe, absl pre-init warning)
are hidden unless `pinet-tf --verbose VERB ...` asks for them; anything else TensorFlow writes
while starting still shows.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# Subpackage modules that add verbs (in the order `pinet-tf --help` lists them).
VERB_MODULES = [
    "pinet_tf.models.cli",
    "pinet_tf.datasets.cli",
    "pinet_tf.training.cli",
    "pinet_tf.inference.cli",
    "pinet_tf.export.torch_cli",
    "pinet_tf.export.cli",
    "pinet_tf.serving.cli",
    "pinet_tf.evaluation.cli",
]

#: Lines TensorFlow 2.21 writes to stderr while it starts on a machine like this one (measured:
#: TF_CPP_MIN_LOG_LEVEL does not reach the absl lines written before absl::InitializeLog, and the
#: cuInit error comes at the first device query, so both are filtered at the file-descriptor level).
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc:\d+\] computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT")


@contextlib.contextmanager
def filtered_stderr(pattern=STARTUP_NOISE):
    """Capture file descriptor 2 (C++ loggers included); on exit write back lines not matching."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not pattern.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietTensorFlowLoader(importlib.abc.Loader):
    """Runs TensorFlow's import, and its first device query, inside `filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # nothing sees this wrapper after
        with filtered_stderr():
            self.loader.exec_module(module)
            # The CUDA probe logs "failed call to cuInit" at the first device query: make it here.
            module.config.list_physical_devices()


class QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """A meta-path finder that only wraps the loader of the top-level `tensorflow` package."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall_quiet_import()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietTensorFlowLoader(spec.loader)
        return spec


def install_quiet_import() -> None:
    """Hide TensorFlow's start-up lines when it is imported later (no-op once it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # INFO and WARNING from TF's C++ logging
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowFinder())


def uninstall_quiet_import() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, QuietTensorFlowFinder)]


def _file_in_path(path: str) -> str | None:
    """The outermost existing non-folder component of `path` (why NotADirectoryError)."""
    found, head = None, path
    while head and head != os.path.dirname(head):
        if os.path.exists(head) and not os.path.isdir(head):
            found = head
        head = os.path.dirname(head)
    return found


def os_error_message(e: OSError) -> str:
    """A sentence naming the path for a raw `[Errno N]` error; other errors' own message."""
    if e.errno is None or not e.strerror:
        return str(e)
    path = e.filename if e.filename2 is None else f"{e.filename} -> {e.filename2}"
    if e.filename is None:
        return e.strerror
    if isinstance(e, FileNotFoundError):
        return f"{path}: no such file or directory"
    if isinstance(e, IsADirectoryError):
        return f"{path} is a folder, a file was expected"
    if isinstance(e, NotADirectoryError):
        file = _file_in_path(os.fsdecode(e.filename))
        if file is None or file == os.fsdecode(e.filename):
            return f"{path} is a file, a folder was expected"
        return f"{file} is a file, a folder was expected (in {path})"
    if isinstance(e, PermissionError):
        return f"{path}: permission denied"
    if isinstance(e, FileExistsError):
        return f"{path} already exists"
    return f"{path}: {e.strerror[0].lower()}{e.strerror[1:]}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinet-tf", description="PINet pose transfer in TensorFlow/Keras.")
    parser.add_argument("--verbose", dest="startup_logs", action="store_true",
                        help="show TensorFlow's start-up log lines (hidden by default)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in VERB_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None) -> int:
    from pinet_tf.utils.extras import MissingExtraError, missing_extra_message

    args = build_parser().parse_args(argv)
    if not args.startup_logs:
        install_quiet_import()
    try:
        result = args.func(args)
    except MissingExtraError as e:
        print(e, file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        message = missing_extra_message(args.command, e)
        if message is None:
            raise  # not an optional extra: a bug or a broken install, keep the traceback
        print(message, file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        # User errors (bad input files, shapes, paths): a clear message, no traceback.
        message = os_error_message(e) if isinstance(e, OSError) else str(e)
        print(f"pinet-tf {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        uninstall_quiet_import()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
