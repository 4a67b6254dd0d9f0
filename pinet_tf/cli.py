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
are hidden unless `pinet-tf --verbose VERB ...` asks for them (`pinet_tf.utils.startup`, also in
worker processes); anything else TensorFlow writes while starting still shows.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from pinet_tf.utils import startup

# Subpackage modules that add verbs (in the order `pinet-tf --help` lists them).
VERB_MODULES = [
    "pinet_tf.models.cli",
    "pinet_tf.datasets.cli",
    "pinet_tf.training.cli",
    "pinet_tf.inference.cli",
    "pinet_tf.inference.gates",
    "pinet_tf.inference.pose.cli",
    "pinet_tf.export.cli",
    "pinet_tf.serving.cli",
    "pinet_tf.evaluation.cli",
]

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
    try:
        with startup.quiet_start(not args.startup_logs):
            return int(args.func(args) or 0)
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


if __name__ == "__main__":
    sys.exit(main())
