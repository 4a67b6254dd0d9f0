"""Output paths that cannot hurt a user's files: one place for the checks every writer makes.

- `check_not_input(out, inputs)`: an output that is one of the inputs (same real path, links and
  `..` resolved, or the same file through a hard link) is refused before any work, so
  `transfer --out photo.png --source photo.png` never overwrites the photo.
- `plain_name(name, where)`: a name read from input data (a pairs CSV, an annotation row) is a
  file name, never a path: `../../x.png`, `a/b.png` or an absolute path is refused at the line
  that holds it.
- `confined(folder, name)`: the path of `name` inside `folder`, refused if it would resolve
  anywhere else (defence in depth for every output name built from input data).
- `owned_by_us(folder, marker)`: a folder may be replaced only when it is empty or holds the
  marker file this program wrote into it (`write_marker`): "looks like what we write" is not
  "we wrote it".
"""

from __future__ import annotations

import json
import os


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # the output does not exist yet
        return False


def check_not_input(out, inputs: dict, what: str = "--out") -> None:
    """`inputs`: {flag: path or None}. Raises ValueError when `out` is one of them."""
    if not out:
        return
    for flag, path in inputs.items():
        if path and _same(os.fspath(out), os.fspath(path)):
            raise ValueError(f"{what} {out}: is the same file as {flag} {path}; refusing to "
                             f"overwrite an input (choose another {what})")


def plain_name(name: str, where: str, what: str = "name") -> str:
    """`name` if it is a plain file name; else a ValueError naming `where` (file:line)."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"))
    if bad:
        raise ValueError(f"{where}: {what} {name[:120]!r} is not a plain file name (no folders, "
                         f"no '..'); names in this file must name files in the data folder")
    return name


def confined(folder, name: str, what: str = "output") -> str:
    """`folder/name`, refused when it would resolve outside `folder`."""
    folder = os.fspath(folder)
    path = os.path.join(folder, name)
    root = os.path.realpath(folder)
    if os.path.commonpath([root, os.path.realpath(path)]) != root or \
            os.path.realpath(path) == root:
        raise ValueError(f"{what} name {name[:120]!r} would be written outside {folder}; "
                         f"refused")
    return path


def write_marker(folder, marker: str, info: dict) -> None:
    """The file that says "pinet-tf wrote this folder" (JSON; written inside a staging folder
    before it is renamed into place)."""
    with open(os.path.join(folder, marker), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")


def owned_by_us(folder, marker: str) -> bool:
    """True when `folder` is missing, empty, or holds `marker` (a regular file, not a link)."""
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        return True
    if not os.listdir(folder):
        return True
    path = os.path.join(folder, marker)
    return os.path.isfile(path) and not os.path.islink(path)
