"""Pictures of PINet's inputs and outputs: parsing palette, skeletons, grids, safe PNG writes.

NumPy/PIL only (no TensorFlow), so training's TensorBoard summaries, the inference CLI and the
tests all draw the same pictures without importing a model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES
from pinet_tf.utils.atomic import atomic_path

#: One fixed RGB colour per parsing class, in `CLASS_NAMES` order (background is black so that a
#: parsing picture reads like a silhouette).
PARSING_PALETTE = np.array([
    (0, 0, 0),        # background
    (128, 0, 0),      # hair
    (255, 85, 0),     # upper-clothes
    (0, 85, 85),      # dress
    (0, 0, 255),      # pants
    (255, 170, 0),    # neck
    (0, 128, 0),      # skirt
    (255, 255, 0),    # face
    (170, 255, 85),   # hands
    (85, 255, 170),   # legs
    (0, 255, 255),    # shoes
    (170, 0, 255),    # hat
], dtype=np.uint8)
assert len(PARSING_PALETTE) == len(CLASS_NAMES)

#: OpenPose COCO-18 limbs as index pairs into `KEYPOINT_NAMES` (the 17 drawn limbs; the two
#: shoulder-ear affinity fields OpenPose also trains are not drawn).
COCO18_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
assert len(KEYPOINT_NAMES) == 18

#: One colour per keypoint (and per limb, by its end point), OpenPose's rainbow.
_RAINBOW = np.array([
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
], dtype=np.uint8)


def colorize_parsing(labels) -> np.ndarray:
    """Labels [H,W] in 0..11 -> uint8 RGB [H,W,3] with `PARSING_PALETTE`."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"parsing labels must be [H,W], got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(PARSING_PALETTE)):
        raise ValueError(
            f"parsing labels must be in 0..{len(PARSING_PALETTE) - 1}, got "
            f"{labels.min()}..{labels.max()}")
    return PARSING_PALETTE[labels.astype(np.int64)]


def parsing_legend(height: int, width: int = 96) -> np.ndarray:
    """A column of colour swatches with class names, `height` pixels tall, to sit beside a
    colourised parsing map."""
    n = len(CLASS_NAMES)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    row = height / n
    swatch = max(1, min(int(row) - 2, 10))
    for i, name in enumerate(CLASS_NAMES):
        top = int(round(i * row))
        y0 = top + max(0, (int(row) - swatch) // 2)
        draw.rectangle([2, y0, 2 + swatch - 1, y0 + swatch - 1],
                       fill=tuple(int(c) for c in PARSING_PALETTE[i]), outline=(96, 96, 96))
        if row >= 8:  # too small to read otherwise; the swatches alone still show the order
            draw.text((swatch + 5, top + max(0, (int(row) - 10) // 2)), name, fill=(0, 0, 0))
    return np.asarray(canvas, dtype=np.uint8)


def _valid(point) -> bool:
    return bool(point[0] >= 0 and point[1] >= 0)


def draw_skeleton(keypoints, height: int, width: int, background=None,
                  radius: int | None = None) -> np.ndarray:
    """COCO-18 keypoints [18,2] as (y, x), -1 for missing -> uint8 [H,W,3] stick figure.

    Drawn on black, or on a copy of `background` (uint8 [H,W,3]). Missing points and limbs
    touching them are skipped.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape != (len(KEYPOINT_NAMES), 2):
        raise ValueError(f"keypoints must be [18,2] (y, x), got shape {kp.shape}")
    if background is None:
        canvas = Image.new("RGB", (width, height), (0, 0, 0))
    else:
        bg = np.asarray(background)
        if bg.shape != (height, width, 3):
            raise ValueError(
                f"background must be [{height},{width},3], got shape {bg.shape}")
        canvas = Image.fromarray(bg.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    if radius is None:
        radius = max(1, round(min(height, width) / 64))
    line = max(1, radius)
    for a, b in COCO18_LIMBS:
        if _valid(kp[a]) and _valid(kp[b]):
            draw.line([(float(kp[a, 1]), float(kp[a, 0])), (float(kp[b, 1]), float(kp[b, 0]))],
                      fill=tuple(int(c) for c in _RAINBOW[b]), width=line)
    for i, (y, x) in enumerate(kp):
        if _valid((y, x)):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius],
                         fill=tuple(int(c) for c in _RAINBOW[i]))
    return np.asarray(canvas, dtype=np.uint8)


def _as_rgb(img) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"grid cells must be [H,W,3] or [H,W], got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"grid cells must be uint8, got {a.dtype}")
    return a


def _wrap(draw, text: str, width: int) -> list:
    """Words of `text` in lines at most `width` pixels wide (a longer word gets its own line)."""
    lines = []
    for word in str(text).split():
        if lines and draw.textlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def image_grid(rows, pad: int = 2, fill: int = 255, titles=None, legend: bool = False
               ) -> np.ndarray:
    """Rows of uint8 images -> one uint8 picture, cells separated by `pad` pixels of `fill`.

    Cells may differ in size: each is placed top-left in a slot as tall as its row's tallest
    cell and as wide as its column's widest cell. `titles`: column labels, written in a strip
    above the first row and wrapped to their column's width (so narrow cells stay readable).
    `legend`: add the parsing classes' colour legend (`parsing_legend`) as a last column, for
    pictures holding a colourised parsing.
    """
    rows = [[_as_rgb(c) for c in row] for row in rows]
    if not rows or not any(rows):
        raise ValueError("image_grid needs at least one image")
    if legend:
        total = sum(max(c.shape[0] for c in r) if r else 0 for r in rows) + pad * (len(rows) - 1)
        rows[0] = rows[0] + [parsing_legend(max(total, 12 * len(CLASS_NAMES)))]
        if titles is not None:
            titles = list(titles) + [""] * (len(rows[0]) - 1 - len(titles)) + ["classes"]
    ncols = max(len(r) for r in rows)
    heights = [max(c.shape[0] for c in r) if r else 0 for r in rows]
    if legend:  # the legend spans every row: the first row keeps only its cells' height
        heights[0] = max(c.shape[0] for c in rows[0][:-1]) if len(rows[0]) > 1 else heights[0]
    widths = [max((r[j].shape[1] for r in rows if j < len(r)), default=0) for j in range(ncols)]
    height = max(sum(heights) + pad * (len(rows) + 1),
                 rows[0][-1].shape[0] + 2 * pad if legend else 0)
    out = np.full((height, sum(widths) + pad * (ncols + 1), 3), fill, dtype=np.uint8)
    y = pad
    for r, h in zip(rows, heights):
        x = pad
        for j in range(ncols):
            if j < len(r):
                c = r[j]
                out[y:y + c.shape[0], x:x + c.shape[1]] = c
            x += widths[j] + pad
        y += h + pad
    if titles:
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        wrapped = [_wrap(probe, t, max(widths[j], 8)) for j, t in enumerate(list(titles)[:ncols])]
        lines = max((len(w) for w in wrapped), default=1)
        strip = Image.new("RGB", (out.shape[1], 11 * lines + 3), (fill,) * 3)
        draw = ImageDraw.Draw(strip)
        x = pad
        for j, title_lines in enumerate(wrapped):
            for k, line in enumerate(title_lines):
                draw.text((x, 1 + 11 * k), line, fill=(0, 0, 0))
            x += widths[j] + pad
        out = np.concatenate([np.asarray(strip, np.uint8), out], axis=0)
    return out


def save_png_atomic(path, array, palette=None) -> None:
    """Write a PNG through `pinet_tf.utils.atomic` (temporary sibling, fsync, rename), so a
    crash or a bad array never leaves a half-written picture at `path`.

    With `palette` (uint8 [N, 3], e.g. `PARSING_PALETTE`) a [H,W] array of indices < N is written
    as a palette PNG: its pixel values are the indices (label readers get the labels back) and
    any picture viewer shows the colours."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise ValueError(f"{path}: PNG data must be uint8, got {a.dtype}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (1, 3, 4))):
        raise ValueError(f"{path}: PNG data must be [H,W], [H,W,3] or [H,W,4], got {a.shape}")
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    picture = Image.fromarray(a)
    if palette is not None:
        palette = np.asarray(palette, np.uint8)
        if a.ndim != 2 or (a.size and a.max() >= len(palette)):
            raise ValueError(f"{path}: a palette PNG takes [H,W] indices below {len(palette)}")
        picture.putpalette(palette.reshape(-1).tolist())   # "L" becomes "P", same values
    try:
        with atomic_path(path, suffix=".png") as tmp:
            with open(tmp, "wb") as f:
                picture.save(f, format="PNG")
    except OSError as e:
        if e.errno is None:
            raise
        from pinet_tf.utils.readers import os_error
        raise os_error(path, e, "picture", "write") from None
