"""Optional dependencies: a verb that needs an extra says which one, in one line, before any work.

    require_extra("serving", "grpc", "tensorflow_serving")   # at the top of `serve`
"""

from __future__ import annotations

import importlib


class MissingExtraError(ValueError):
    """An optional dependency is not installed (a ValueError, so the CLI prints one line)."""


def require_extra(extra: str, *modules: str) -> None:
    """Import `modules`; the first that is missing raises MissingExtraError naming `extra`."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(f"needs the {extra} extra (no module {name!r}): "
                                    f"pip install -e \".[{extra}]\"") from None
