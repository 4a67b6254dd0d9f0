"""Finding local weight files for network-backed metrics (nothing is downloaded).

LPIPS, FID and IS depend on pretrained networks; which weights were used changes the numbers, so
every metric takes an explicit path, else looks in a few known folders, and when nothing is found
raises an error that names the file needed, where it comes from and every place it looked. The
report records each file's sha256 so a number can be traced to its weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os

#: Folder searched for every weights file (after an explicit path).
ENV_VAR = "PINET_TF_WEIGHTS_DIR"


class WeightsNotFoundError(FileNotFoundError):
    """A metric's weights file is not on this machine."""


def search_dirs(extra=()) -> list:
    """Folders searched, in order: $PINET_TF_WEIGHTS_DIR, then `extra` (metric-specific caches)."""
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(os.environ[ENV_VAR])
    dirs.extend(os.path.expanduser(d) for d in extra)
    return dirs


def package_dir(name: str):
    """Folder of an installed package, found WITHOUT importing it (the lpips package imports
    torch and torchvision; we only want the data files in its wheel)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def find_weights(what: str, filenames, explicit=None, extra_dirs=(), source: str = "") -> str:
    """Path of the first existing file among `filenames` in the search folders.

    `explicit` (a file path) wins and must exist. `what` and `source` (where to get the file)
    go into the error message.
    """
    if explicit:
        explicit = os.fspath(explicit)
        if os.path.isfile(explicit):
            return explicit
        raise WeightsNotFoundError(f"{what}: weights file {explicit} does not exist"
                                   + (f" (get it from {source})" if source else ""))
    if isinstance(filenames, str):
        filenames = [filenames]
    looked = []
    for d in search_dirs(extra_dirs):
        for name in filenames:
            p = os.path.join(d, name)
            looked.append(p)
            if os.path.isfile(p):
                return p
    env_note = "" if os.environ.get(ENV_VAR) else f" (${ENV_VAR} is not set)"
    raise WeightsNotFoundError(
        f"{what}: weights file {' or '.join(repr(n) for n in filenames)} not found"
        + (f"; get it from {source}" if source else "")
        + f"; put it in ${ENV_VAR}{env_note} or pass its path explicitly; looked for: "
        + (", ".join(looked) if looked else "nothing (no folder to search)"))


def sha256_file(path) -> str:
    """Hex sha256 of a file (1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
