"""Optional extras: a verb that needs one says which to install, in one line, before any work.

The base install (`pip install -e .`) runs every verb that needs no extra. The others call
`require_extra` first thing in their handler:

    require_extra("serve", "serving", "tensorflow_serving", "grpc")
    -> MissingExtraError: pinet-tf serve needs the serving extra: pip install -e ".[serving]"

`pinet_tf.cli.main` prints the message as it is and exits 2. A `ModuleNotFoundError` for a module
of `EXTRAS` that escapes a verb anyway gets the same sentence (`missing_extra_message`).
"""

from __future__ import annotations

import importlib.util

#: setup.py's extras and the top-level modules each one provides (what a verb may need).
EXTRAS = {
    "serving": ("tensorflow_serving", "grpc"),
    "tflite": ("ai_edge_litert",),
    "torch": ("torch",),
    "tfds": ("tensorflow_datasets",),
    "dev": ("pytest", "scipy", "skimage"),
    "docs": ("mkdocs", "mkdocstrings"),  # the documentation site (`mkdocs build`); no verb
}


class MissingExtraError(ImportError):
    """An optional extra a verb needs is not installed; the message is the whole user error."""


def install_command(extra: str) -> str:
    return f'pip install -e ".[{extra}]"'


def is_installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it (no work, no TF start-up)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken parent package, or sys.modules[name] = None
        return False


def require_extra(verb: str, extra: str, *modules: str) -> None:
    """Raise MissingExtraError naming `verb` and `extra` unless every module is importable."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; setup.py has {sorted(EXTRAS)}")
    missing = [m for m in modules or EXTRAS[extra] if not is_installed(m)]
    if missing:
        raise MissingExtraError(f"pinet-tf {verb} needs the {extra} extra: "
                                f"{install_command(extra)}", name=missing[0])


def missing_extra_message(verb: str, error: ModuleNotFoundError) -> str | None:
    """The one-line message for a module of an extra that `verb` failed to import, else None."""
    top = (error.name or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return (f"pinet-tf {verb} needs {top}, from the {extra} extra: "
                    f"{install_command(extra)}")
    return None
