"""Every shell block of the guides marked runnable (`<!-- runnable -->`) runs as written.

Each page's blocks run in order, in one shell (as in one terminal), in a temporary folder that stands for the
repository root: `examples/` and `tests/` are links to the real ones (read only), and a page that
names the Quick start's run gets `runs/quick` linked to the session's trained tiny run (the very
command of the Quick start, `trained_tiny_run`; such a page is a `trained` test). `pinet-tf` is
this checkout's. Afterwards nothing but `out/` may have appeared: documented commands write
there, never into the repository root.
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.docs.runnable import MARKER, QUICK_RUN, ROOT, pages_with_runnable_blocks, \
    runnable_blocks

PAGES = pages_with_runnable_blocks()
LINKED = ("examples", "tests")


def _params():
    for page, blocks in PAGES.items():
        marks = [pytest.mark.trained] if any(QUICK_RUN in b for b in blocks) else []
        yield pytest.param(page, marks=marks, id=page)


def _shell_env(tmp_path):
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    # `pinet-tf` = this checkout's CLI in this interpreter, whatever is installed elsewhere.
    script = bin_dir / "pinet-tf"
    script.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "
                      f"'import sys; from pinet_tf.cli import main; sys.exit(main())' \"$@\"\n")
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
               PINET_TF_NO_DOWNLOAD="1")
    env.pop("PINET_TF_WEIGHTS_BASE_URL", None)
    return env


def test_the_guides_have_runnable_blocks():
    # The pages whose examples this file runs (a page losing its marker would silently go).
    assert {"guides/install.md", "guides/data.md", "guides/training.md",
            "guides/import-checkpoint.md", "guides/export-serving.md",
            "reference/models.md"} <= set(PAGES)


def test_a_marker_must_precede_a_bash_block():
    assert runnable_blocks(f"x\n{MARKER}\n```bash\necho 1\n```\n") == ["echo 1\n"]
    with pytest.raises(ValueError, match="markers"):
        runnable_blocks(f"x\n{MARKER}\n\n```python\nprint(1)\n```\n")


@pytest.mark.parametrize("page", list(_params()))
def test_runnable_blocks_of(page, tmp_path, request):
    root = tmp_path / "repo"
    root.mkdir()
    for name in LINKED:
        (root / name).symlink_to(os.path.join(ROOT, name), target_is_directory=True)
    blocks = PAGES[page]
    if any(QUICK_RUN in b for b in blocks):
        (root / "runs").mkdir()
        (root / QUICK_RUN).symlink_to(request.getfixturevalue("trained_tiny_run"),
                                      target_is_directory=True)
    env = _shell_env(tmp_path)
    before = set(os.listdir(root))
    # One shell for the page, as a reader's terminal: a variable or a background server of one
    # block is there in the next. Whatever it leaves running is stopped at its exit.
    script = ["trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for i, block in enumerate(blocks, 1):
        script += [f"echo '@@ block {i}' >&2", block]
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=900)
    started = re.findall(r"^@@ block (\d+)$", proc.stderr, re.M)
    block = int(started[-1]) if started else 1
    assert proc.returncode == 0, (
        f"docs/{page}, runnable block {block} failed (exit {proc.returncode}):\n"
        f"{blocks[block - 1]}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n"
        f"{proc.stderr[-3000:]}")
    assert len(started) == len(blocks)
    assert "Traceback" not in proc.stderr, proc.stderr
    new = set(os.listdir(root)) - before
    assert new <= {"out"}, f"docs/{page} wrote outside out/: {sorted(new - {'out'})}"
