"""A line plot in PIL (no matplotlib in the project's installs): for the learning curves and
other committed result pictures of `benchmarks/`."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Distinct line colours (RGB), cycled.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
           (0, 0, 128), (128, 0, 0), (255, 0, 255), (218, 165, 32))


def _ticks(lo: float, hi: float, n: int = 5) -> list:
    """About n round tick values covering [lo, hi]."""
    span = max(hi - lo, 1e-12)
    raw = span / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def _dashed(draw, a, b, colour, on=8.0, off=5.0) -> None:
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    t = 0.0
    while t < length:
        e = min(t + on, length)
        draw.line([(a[0] + (b[0] - a[0]) * t / length, a[1] + (b[1] - a[1]) * t / length),
                   (a[0] + (b[0] - a[0]) * e / length, a[1] + (b[1] - a[1]) * e / length)],
                  fill=colour, width=2)
        t = e + off


def line_plot(series, title="", xlabel="", ylabel="", size=(900, 520), ylim=None) -> np.ndarray:
    """uint8 RGB picture of `series`: a list of dicts {"label", "x", "y", optional "dashed",
    "colour"}; NaN points are skipped. Returns [H, W, 3]."""
    w, h = size
    left, right, top, bottom = 70, 230, 34, 50
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    xs = [x for s in series for x in s["x"]]
    ys = [y for s in series for y in s["y"] if y is not None and math.isfinite(y)]
    if not xs or not ys:
        raise ValueError("line_plot: nothing to plot")
    x0, x1 = min(xs), max(xs)
    y0, y1 = ylim if ylim else (min(ys), max(ys))
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = (y0, y1) if ylim else (y0 - pad, y1 + pad)
    px = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
    py = lambda y: h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)  # noqa: E731
    draw.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    for t in _ticks(y0, y1):
        draw.line([left - 4, py(t), w - right, py(t)], fill=(225, 225, 225))
        draw.text((4, py(t) - 6), _label(t), fill=(0, 0, 0), font=font)
    for t in _ticks(x0, x1):
        draw.line([px(t), top, px(t), h - bottom + 4], fill=(225, 225, 225))
        draw.text((px(t) - 12, h - bottom + 8), _label(t), fill=(0, 0, 0), font=font)
    draw.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    draw.text((left + 150, 8), title, fill=(0, 0, 0), font=font)
    draw.text(((left + w - right) // 2 - 20, h - 20), xlabel, fill=(0, 0, 0), font=font)
    draw.text((4, top - 20), ylabel, fill=(0, 0, 0), font=font)
    for i, s in enumerate(series):
        colour = tuple(s.get("colour", PALETTE[i % len(PALETTE)]))
        pts = [(px(x), py(min(max(y, y0), y1))) for x, y in zip(s["x"], s["y"])
               if y is not None and math.isfinite(y)]
        if s.get("dashed"):
            for a, b in zip(pts, pts[1:]):
                _dashed(draw, a, b, colour)
        elif len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
        ly = top + 6 + 16 * i
        draw.line([w - right + 10, ly + 6, w - right + 34, ly + 6], fill=colour, width=3)
        draw.text((w - right + 40, ly), s["label"][:30], fill=(0, 0, 0), font=font)
    return np.asarray(img)
