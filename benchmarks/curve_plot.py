"""Line charts of held-out learning curves, drawn with PIL (matplotlib is not a dependency).

    plot_reference_curves(results, "docs/images/reference_curve.png")

One panel per learning rate of a `benchmarks.reference_curve` results dict: the person-region L1
(0..255) of every run (the reference in blues, pinet-tf in reds, one shade per seed), the
paint-by-parsing baseline with the true target parsing (grey line) and with each run's own parsing
(thin grey curve: the mean over the runs), a legend and the conditions in the title.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pinet_tf.utils.drawing import save_png_atomic

PANEL_W, PANEL_H = 560, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 44
HEADER, LEGEND_ROW = 34, 16
#: (side, seed index) -> colour; seed 0 dark, seed 1 light.
COLOURS = {("torch", 0): (20, 60, 170), ("torch", 1): (90, 150, 235),
           ("pinet_tf", 0): (190, 30, 30), ("pinet_tf", 1): (245, 140, 60)}
GREY, LIGHT_GREY, AXIS = (110, 110, 110), (175, 175, 175), (40, 40, 40)
LABELS = {"torch": "reference (PyTorch)", "pinet_tf": "pinet-tf"}


def _font(size):
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def nice_ticks(lo: float, hi: float, n: int = 5) -> list:
    """About `n` round tick values covering [lo, hi]."""
    span = max(hi - lo, 1e-9)
    raw = span / n
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    return [float(t) for t in np.arange(first, hi + step * 1e-6, step)]


def _panel(draw, x0, y0, series, hlines, title, font, small):
    """series: [(label, colour, width, [(x, y)...])]; hlines: [(label, colour, y)]."""
    xs = [x for _, _, _, pts in series for x, _ in pts]
    ys = [y for _, _, _, pts in series for _, y in pts] + [y for _, _, y in hlines]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    pad = 0.05 * max(y_hi - y_lo, 1.0)
    y_lo, y_hi = max(0.0, y_lo - pad), y_hi + pad
    w, h = PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM
    px = lambda x: x0 + LEFT + (x - x_lo) / max(x_hi - x_lo, 1e-9) * w  # noqa: E731
    py = lambda y: y0 + TOP + (1 - (y - y_lo) / max(y_hi - y_lo, 1e-9)) * h  # noqa: E731
    draw.text((x0 + LEFT, y0 + 8), title, fill=AXIS, font=font)
    draw.rectangle([x0 + LEFT, y0 + TOP, x0 + LEFT + w, y0 + TOP + h], outline=AXIS)
    for t in nice_ticks(y_lo, y_hi):
        draw.line([(x0 + LEFT - 4, py(t)), (x0 + LEFT, py(t))], fill=AXIS)
        draw.line([(x0 + LEFT + 1, py(t)), (x0 + LEFT + w - 1, py(t))], fill=(232, 232, 232))
        draw.text((x0 + LEFT - 6, py(t)), f"{t:g}", fill=AXIS, font=small, anchor="rm")
    for t in nice_ticks(x_lo, x_hi):
        draw.line([(px(t), y0 + TOP + h), (px(t), y0 + TOP + h + 4)], fill=AXIS)
        draw.text((px(t), y0 + TOP + h + 6), f"{t:g}", fill=AXIS, font=small, anchor="mt")
    draw.text((x0 + LEFT + w / 2, y0 + PANEL_H - 14), "training step", fill=AXIS, font=small,
              anchor="mm")
    draw.text((x0 + 4, y0 + TOP - 14), "person L1 (0..255)", fill=AXIS, font=small)
    for label, colour, y in hlines:
        draw.line([(px(x_lo), py(y)), (px(x_hi), py(y))], fill=colour, width=2)
    for _, colour, width, pts in series:
        for (xa, ya), (xb, yb) in zip(pts, pts[1:]):  # `width` 1-pixel lines: PIL's wide
            for d in range(width):                     # lines vanish on near-flat segments
                draw.line([(px(xa) + d, py(ya) + d), (px(xb) + d, py(yb) + d)], fill=colour)


def _legend(draw, x, y, entries, font):
    """One row per (label, colour), below the panels."""
    for label, colour in entries:
        draw.line([(x, y + 7), (x + 24, y + 7)], fill=colour, width=3)
        draw.text((x + 30, y), label, fill=AXIS, font=font)
        y += LEGEND_ROW


def plot_reference_curves(results: dict, path: str) -> np.ndarray:
    """Draw the results' curves (module docstring) into `path` (PNG); returns the pixels."""
    runs = results["runs"]
    lrs = sorted({r["lr"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    font, small = _font(14), _font(11)
    entries = 3 + 2 * len(seeds)
    img = Image.new("RGB", (max(PANEL_W * len(lrs), 640),
                            HEADER + PANEL_H + entries * LEGEND_ROW + 8), "white")
    draw = ImageDraw.Draw(img)
    s = results["settings"]
    reached = min(r["curve"][-1]["step"] for r in runs)
    planned = f" (a cut run: {s['steps']} planned)" if reached < s["steps"] else ""
    draw.text((8, 4), f"Held-out person L1 (0..255), {results['baselines']['held_out_pairs']} "
              f"held-out pairs; tiny 64x44, batch {s['batch']}, {reached} steps{planned}, "
              f"float32", fill=AXIS, font=small)
    draw.text((8, 18), "official schedule: CE + L1 + 5 LSGAN, no perceptual term, "
              "D dropout off; same initial state and batches per seed", fill=AXIS, font=small)
    for i, lr in enumerate(lrs):
        series, own = [], []
        for r in sorted((r for r in runs if r["lr"] == lr), key=lambda r: (r["side"], r["seed"])):
            colour = COLOURS[r["side"], min(seeds.index(r["seed"]), 1)]
            pts = [(p["step"], p["model"]) for p in r["curve"]]
            series.append((f"{LABELS[r['side']]}, seed {r['seed']}", colour, 2, pts))
            own.append([p["paint_by_parsing"] for p in r["curve"]])
        n = min(map(len, own))  # the points every run of this lr reached
        steps = [p["step"] for p in next(r for r in runs if r["lr"] == lr)["curve"][:n]]
        paint_own = list(zip(steps, np.mean([o[:n] for o in own], axis=0)))
        series.insert(0, ("paint-by-parsing, own parsing (mean)", LIGHT_GREY, 1, paint_own))
        hlines = [("paint-by-parsing, true parsing", GREY,
                   results["baselines"]["paint_by_parsing_true"])]
        _panel(draw, PANEL_W * i, HEADER, series, hlines, f"lr {lr:g}", font, small)
    _legend(draw, LEFT, HEADER + PANEL_H + 4,
            [(lab, col) for lab, col, _ in hlines] + [(lab, col) for lab, col, _, _ in series],
            small)
    pixels = np.asarray(img)
    save_png_atomic(path, pixels)
    return pixels
