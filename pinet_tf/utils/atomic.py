"""Atomic writes: a reader sees the old file (or folder) or the complete new one, never half of one.

One helper for every writer of the package (weights, JSON, PNG, records, exports, reports): write
to a hidden temporary sibling in the same folder (same file system, so the rename is atomic),
fsync, then rename over the final name. On any error, KeyboardInterrupt included, the temporary
sibling is removed and the final name is untouched.

    with atomic_path("out/report.json") as tmp:     # a path to write to (any writer)
        write_something(tmp)
    with atomic_file("out/report.json", "w") as f:  # an open file
        json.dump(data, f)
    with atomic_dir("models/pinet/3") as tmp:       # a folder, renamed whole
        tf.saved_model.save(module, tmp)

Temporary names start with `TMP_PREFIX` (".tmp-"), so a stale one left by a killed process
(kill -9 skips every clean-up) is recognisable: `remove_stale(folder)` deletes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

#: Every temporary sibling's name starts with this (hidden, and recognisable as ours).
TMP_PREFIX = ".tmp-"


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory: the rename is still atomic
        pass
    finally:
        os.close(fd)


def _parent(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    return folder


@contextlib.contextmanager
def atomic_path(path, suffix: str = "", mode: int = 0o644):
    """Yield a temporary path beside `path`; on success fsync it and rename it to `path`.

    `suffix` keeps an ending that a writer insists on (e.g. ".weights.h5" for Keras, ".png").
    """
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + os.path.basename(path) + "-", suffix=suffix,
                               dir=_parent(path))
    os.close(fd)
    try:
        yield tmp
        _fsync_path(tmp)
        os.chmod(tmp, mode)  # mkstemp makes 0600; an output should be readable like any file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path, mode: str = "w", **open_kwargs):
    """Yield an open file ("w" or "wb") whose contents replace `path` only when the block ends."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file writes a whole file: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)


def write_json(path, data, **dump_kwargs) -> None:
    """JSON with a trailing newline (indent 2, sorted keys unless told otherwise)."""
    import json

    dump_kwargs.setdefault("indent", 2)
    dump_kwargs.setdefault("sort_keys", True)
    with atomic_file(path, "w") as f:
        json.dump(data, f, **dump_kwargs)
        f.write("\n")


@contextlib.contextmanager
def atomic_dir(path, mode: int = 0o755, replace: bool = False):
    """Yield a temporary folder beside `path`; on success rename it to `path`.

    An existing `path` is an error unless `replace=True`, in which case the old folder is moved
    aside first and deleted only after the new one is in place (between the two renames the old
    folder is still whole under its aside name; a reader never sees a half folder).
    """
    path = os.fspath(path).rstrip(os.sep)
    parent = _parent(path)
    if os.path.exists(path) and not replace:
        raise FileExistsError(f"{path} already exists")
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + os.path.basename(path) + "-", dir=parent)
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                _fsync_path(os.path.join(root, name))
        os.chmod(tmp, mode)  # mkdtemp makes 0700; a server may run as another user
        if not replace:
            _claim_rename(tmp, path)  # never over a folder another writer put there meanwhile
        elif os.path.exists(path):
            aside = tempfile.mkdtemp(prefix=TMP_PREFIX + "old-" + os.path.basename(path) + "-",
                                     dir=parent)
            os.rmdir(aside)
            os.rename(path, aside)
            os.rename(tmp, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, path)
        _fsync_path(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _claim_rename(tmp: str, path: str) -> None:
    """Rename folder `tmp` to `path` only if nobody holds `path`: an exclusive mkdir claims the
    name (FileExistsError when taken), then the rename replaces that empty folder atomically."""
    os.mkdir(path)
    try:
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        raise


class Claim:
    """What `atomic_claim` yields: `tmp` to fill, then `path`, the name it was given."""

    def __init__(self, tmp: str):
        self.tmp, self.path = tmp, None


@contextlib.contextmanager
def atomic_claim(parent, names, mode: int = 0o755):
    """Yield a `Claim` whose `tmp` folder (beside the final one) the block fills; on success it
    is renamed to the first of `names` (an iterable of names in `parent`) that is free, each
    claimed by an exclusive mkdir, so two writers racing for one name (two `export`s to one base)
    never replace each other: the loser takes the next name. FileExistsError when every name is
    taken."""
    parent = os.fspath(parent)
    os.makedirs(parent, exist_ok=True)
    claim = Claim(tempfile.mkdtemp(prefix=TMP_PREFIX + "claim-", dir=parent))
    try:
        yield claim
        for root, _, files in os.walk(claim.tmp):
            for name in files:
                _fsync_path(os.path.join(root, name))
        os.chmod(claim.tmp, mode)
        taken = []
        for name in names:
            path = os.path.join(parent, name)
            try:
                _claim_rename(claim.tmp, path)
            except FileExistsError:
                taken.append(name)
                continue
            claim.path = path
            break
        else:
            raise FileExistsError(f"{os.path.join(parent, taken[-1] if taken else '')}: already "
                                  f"exists")
        _fsync_path(parent)
    except BaseException:
        shutil.rmtree(claim.tmp, ignore_errors=True)
        raise


def remove_stale(folder, older_than_seconds: float = 0.0) -> list:
    """Delete `TMP_PREFIX` entries of `folder` (left by killed writers); return their names.

    `older_than_seconds` spares entries a live writer may still be filling.
    """
    import time

    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than_seconds:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except FileNotFoundError:
            continue
    return removed


@contextlib.contextmanager
def atomic_files(folder):
    """Yield a temporary folder beside `folder`; on success move each file written there into
    `folder` (one atomic rename each, replacing same-named files); on any error nothing reaches
    `folder` and the temporary one is removed. For a batch of outputs written into a folder that
    may already hold other files (results, converted label maps)."""
    folder = os.fspath(folder).rstrip(os.sep)
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + os.path.basename(folder) + "-",
                           dir=_parent(folder))
    try:
        yield tmp
        os.makedirs(folder, exist_ok=True)
        for name in sorted(os.listdir(tmp)):
            _fsync_path(os.path.join(tmp, name))
            os.chmod(os.path.join(tmp, name), 0o644)
            os.replace(os.path.join(tmp, name), os.path.join(folder, name))
        _fsync_path(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def undo_on_error(folder, keep=None):
    """Create `folder` if missing; if the block fails, remove what it added (the whole folder
    when the block created it, else only the new entries), unless `keep()` says the work so
    far is worth keeping (e.g. a training run's checkpoint). For outputs written as they are
    made (generated pictures, a run directory), so a failed run leaves nothing partial."""
    folder = os.fspath(folder)
    existed = os.path.isdir(folder)
    before = set(os.listdir(folder)) if existed else set()
    os.makedirs(folder, exist_ok=True)
    try:
        yield folder
    except BaseException:
        if keep is None or not keep():
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                for name in set(os.listdir(folder)) - before:
                    path = os.path.join(folder, name)
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)
        raise

