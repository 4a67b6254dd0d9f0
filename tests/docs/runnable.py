"""The shell blocks of the documentation marked runnable, and how the tests run them.

A block is runnable when the line right before its ```bash fence is `<!-- runnable -->` (the
marker is an HTML comment, so the site does not show it). Such a block must run as written,
from the repository root, on what a clone has (`examples/`, `tests/fixtures/`) and, when it names
it, the Quick start's run `runs/quick`; it writes into `out/` only.
"""

from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
MARKER = "<!-- runnable -->"
QUICK_RUN = "runs/quick"

_BLOCK = re.compile(r"^" + re.escape(MARKER) + r"[ \t]*\n```bash[ \t]*\n(.*?)^```[ \t]*$",
                    re.M | re.S)


def runnable_blocks(text: str) -> list:
    """The bodies of the runnable ```bash blocks of one Markdown text, in order. A marker that
    is not followed by a ```bash block is an error (a typo would otherwise skip the block)."""
    blocks = [m.group(1) for m in _BLOCK.finditer(text)]
    if len(blocks) != text.count(MARKER):
        raise ValueError(f"{text.count(MARKER)} {MARKER} markers but {len(blocks)} ```bash "
                         f"blocks right after one")
    return blocks


def pages_with_runnable_blocks() -> dict:
    """{page path relative to docs/: [block, ...]} for every page with a runnable block."""
    pages = {}
    for folder, _, files in os.walk(DOCS):
        for name in sorted(files):
            if name.endswith(".md"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    blocks = runnable_blocks(f.read())
                if blocks:
                    pages[os.path.relpath(path, DOCS)] = blocks
    return dict(sorted(pages.items()))
