"""The evaluation report's human-readable parts: a Markdown page and a best/worst pairs grid."""

from __future__ import annotations

import os

import numpy as np

LABELS = {"l1": "L1", "ssim": "SSIM", "psnr": "PSNR (dB)", "lpips": "LPIPS", "fid": "FID",
          "is": "IS"}


def write_grid(path, best_rows, worst_rows) -> None:
    """Rows (l1, index, file, source, target, generated): best pairs on the left (source, target,
    output), worst on the right, best/worst first, separated by a blank column."""
    from pinet_tf.utils.drawing import image_grid, save_png_atomic

    if not best_rows:
        return
    h, w = best_rows[0][3].shape[:2]
    gap = np.full((h, 8, 3), 255, np.uint8)
    rows = [[b[3], b[4], b[5], gap, x[3], x[4], x[5]] for b, x in zip(best_rows, worst_rows)]
    grid = image_grid(rows, titles=["best", "target", "output", "", "worst", "target", "output"])
    save_png_atomic(path, grid)


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}")


def markdown(report: dict) -> str:
    metrics = report["metrics"]
    names = [k for k in LABELS if k in metrics["model"]]
    up = report["higher_is_better"]
    lines = ["# pinet-tf evaluation", "",
             f"Model: `{report['model']['path']}` ({report['model']['kind']}, config "
             f"`{report['model']['config'].get('name')}`); data: `{report['data']['path']}` split "
             f"`{report['data']['split']}`, {report['protocol']['pairs']} of "
             f"{report['data']['pairs_in_split']} pairs.", "",
             "| method | " + " | ".join(f"{LABELS[k]} {'↑' if up[k] else '↓'}" for k in names)
             + " |",
             "|---" * (len(names) + 1) + "|"]
    for method, vals in metrics.items():
        cells = []
        for k in names:
            cell = _fmt(vals.get(k))
            if k == "is" and "is_std" in vals:
                cell += f" ± {vals['is_std']:.3f}"
            cells.append(cell)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    beats = report["beats_baselines"]
    lines += ["", "Model beats both baselines on: "
              + (", ".join(LABELS[k] for k in names if beats.get(k)) or "nothing") + ".", "",
              "## Protocol", ""]
    for k, v in report["protocol"].items():
        if isinstance(v, dict):
            v = "; ".join(f"{a}: {b}" for a, b in v.items())
        lines.append(f"- **{k}**: {v}")
    lines += ["", "## Weights", ""]
    if report["weights"]:
        lines += ["| role | file | sha256 |", "|---|---|---|"]
        lines += [f"| {w['role']} | `{w['path']}` | `{w['sha256']}` |" for w in report["weights"]]
    else:
        lines.append("No network weights were available: only L1, SSIM and PSNR were computed.")
    if report["skipped"]:
        lines += ["", "## Skipped metrics", ""]
        lines += [f"- **{LABELS.get(k, k)}**: {v}" for k, v in report["skipped"].items()]
    lines += ["", "## Best and worst pairs by L1", "",
              f"![best and worst pairs]({os.path.basename(report['files']['grid'])})", "",
              "Left block: the best pairs (source, target, output); right block: the worst.", ""]
    return "\n".join(lines)


def write_markdown(path, report: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(markdown(report))
    os.replace(tmp, path)
