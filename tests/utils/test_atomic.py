"""pinet_tf.utils.atomic: the final name holds the old or the complete new content, never half."""

import json
import os

import pytest

from pinet_tf.utils import atomic


def _listing(folder):
    return sorted(os.listdir(folder))


def test_file_written_and_readable(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic.write_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().endswith("\n")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)
    assert _listing(tmp_path / "sub") == ["a.json"]


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_file(path, "w") as f:
            f.write("half of the new")
            raise RuntimeError("writer died")
    assert path.read_text() == "old"
    assert _listing(tmp_path) == ["a.txt"]


def test_atomic_path_keeps_suffix(tmp_path):
    path = tmp_path / "m.weights.h5"
    with atomic.atomic_path(path, suffix=".weights.h5") as tmp:
        assert tmp.endswith(".weights.h5") and os.path.basename(tmp).startswith(atomic.TMP_PREFIX)
        with open(tmp, "wb") as f:
            f.write(b"x")
    assert path.read_bytes() == b"x"


def test_dir_refuses_existing_unless_replace(tmp_path):
    final = tmp_path / "v1"
    with atomic.atomic_dir(final) as tmp:
        (open(os.path.join(tmp, "f"), "w")).write("1")
    assert (final / "f").read_text() == "1"
    assert oct(os.stat(final).st_mode & 0o777) == oct(0o755)
    with pytest.raises(FileExistsError):
        with atomic.atomic_dir(final):
            pass
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(final, replace=True) as tmp:
            open(os.path.join(tmp, "f"), "w").write("half")
            raise RuntimeError("died")
    assert (final / "f").read_text() == "1"
    with atomic.atomic_dir(final, replace=True) as tmp:
        open(os.path.join(tmp, "g"), "w").write("2")
    assert _listing(final) == ["g"]
    assert _listing(tmp_path) == ["v1"]


def test_remove_stale(tmp_path):
    (tmp_path / ".tmp-x-123").mkdir()
    (tmp_path / ".tmp-y.png").write_text("")
    (tmp_path / "keep").write_text("")
    assert sorted(atomic.remove_stale(tmp_path)) == [".tmp-x-123", ".tmp-y.png"]
    assert _listing(tmp_path) == ["keep"]
    (tmp_path / ".tmp-fresh").write_text("")
    assert atomic.remove_stale(tmp_path, older_than_seconds=3600) == []
