"""Lazy package exports: `from pinet_tf.models import build_generator` without importing
TensorFlow until a name is first used (so `pinet-tf --help` starts fast).

    _EXPORTS = {"build_generator": "pinet_tf.models.generators", ...}
    __all__ = sorted(_EXPORTS)
    __getattr__ = lazy_exports(__name__, _EXPORTS)
"""

import importlib


def lazy_exports(package: str, exports: dict):
    """A module-level `__getattr__` (PEP 562) that imports `exports[name]` on first use."""

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
