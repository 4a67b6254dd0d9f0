"""`pinet-tf` command line: one verb per capability.

Each subpackage that offers verbs has a `cli.py` with `register(subparsers)`; this module only
collects them, so verbs stay beside the code they call and this file stays thin.
"""

import argparse
import importlib
import os
import sys

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinet-tf", description="PINet pose transfer in TensorFlow/Keras.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in VERB_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError, OSError) as e:
        # User errors (bad input files, shapes, paths): a clear message, no traceback.
        print(f"pinet-tf {args.command}: error: {e}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
