"""The README's Quick start commands, read from the README itself (so CI and README cannot drift).

    python .ci/quickstart.py README.md 1   # prints command 1 (the main job)
    python .ci/quickstart.py README.md 2   # prints command 2 (the tests)

The commands are the lines of the first ```bash block under the "## Quick start" heading; there
must be exactly two.
"""

import sys

HEADING = "## Quick start"
COUNT = 2


def quick_start_commands(text: str, source: str = "README.md") -> list:
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == HEADING)
    except StopIteration:
        raise ValueError(f"{source}: no {HEADING!r} heading") from None
    block = None
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("## "):
            break
        if block is None and stripped == "```bash":
            block = []
        elif block is not None and stripped.startswith("```"):
            break
        elif block is not None and stripped:
            block.append(stripped)
    if block is None:
        raise ValueError(f"{source}: no ```bash block under {HEADING!r} (line {start + 1})")
    if len(block) != COUNT:
        raise ValueError(f"{source}: the Quick start block has {len(block)} commands, "
                         f"expected {COUNT} (install + main job, install + tests)")
    return block


def main(argv) -> int:
    if len(argv) != 2 or argv[1] not in ("1", "2"):
        print("usage: quickstart.py README.md 1|2", file=sys.stderr)
        return 2
    path, n = argv[0], int(argv[1])
    try:
        with open(path, encoding="utf-8") as f:
            commands = quick_start_commands(f.read(), path)
    except (OSError, ValueError) as e:
        print(f"quickstart.py: error: {e}", file=sys.stderr)
        return 2
    print(commands[n - 1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
