"""The drawing primitives: a canvas (image + parsing map) and shaded, textured shapes on it.

Each primitive computes its mask on its own bounding box only (vectorised numpy), and paints one
parsing label and one colour (or a two-colour garment pattern) there. Texture coordinates are
given in the frame of the shape (along / across), so a print follows the body part it is on.
"""

from __future__ import annotations

import math

import numpy as np

from pinet_tf.datasets.synthetic.people import Garment

_RANGE = np.arange(4096, dtype=np.float32)  # pixel coordinates, sliced per window


class Canvas:
    """Image + label map; each primitive paints a label and a texture on its own bounding box."""

    def __init__(self, background: tuple, height: int, width: int):
        self.h, self.w = height, width
        top, bottom = background
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
        # uint8 canvas (each paint rounds its own pixels)
        self.image = np.repeat(np.round(rows).astype(np.uint8)[:, None, :], width, axis=1)
        self.parsing = np.zeros((height, width), np.uint8)

    def _box(self, centres, pad):
        """Pixel window around points (plain Python maths: numpy call overhead dominates here)."""
        ys = [float(c[0]) for c in centres]
        xs = [float(c[1]) for c in centres]
        y0 = max(math.floor(min(ys) - pad), 0)
        y1 = min(math.ceil(max(ys) + pad) + 1, self.h)
        x0 = max(math.floor(min(xs) - pad), 0)
        x1 = min(math.ceil(max(xs) + pad) + 1, self.w)
        if y0 >= y1 or x0 >= x1:
            return None
        return (slice(y0, y1), slice(x0, x1)), _RANGE[y0:y1, None], _RANGE[None, x0:x1]

    def _paint(self, sl, mask, label, colour, pattern=None, shade=None):
        """colour: one RGB, or (RGB, RGB) chosen per pixel by the boolean `pattern`.

        `pattern` and `shade` hold one value per pixel of `mask` (already masked).
        """
        if isinstance(colour, tuple) and len(colour) == 2 and np.ndim(colour[0]) == 1:
            if pattern is None:
                col = np.asarray(colour[0], np.float32)[None, :]
            else:
                col = np.where(pattern[:, None], np.asarray(colour[1], np.float32),
                               np.asarray(colour[0], np.float32))
        else:
            col = np.asarray(colour, np.float32)[None, :]
        if shade is not None:
            col = col * shade[:, None]
        self.image[sl][mask] = np.minimum(col + 0.5, 255.0).astype(np.uint8)
        self.parsing[sl][mask] = label

    def capsule(self, p0, p1, r0, r1, label, colour, garment=None, unit=1.0, extend=(0.0, 0.0),
                rounded=True, t_range=(0.0, 1.0)):
        """Tapered segment p0 -> p1 (radii r0, r1). Texture coordinates: (along, across) / unit."""
        p0 = np.asarray(p0, np.float32)
        p1 = np.asarray(p1, np.float32)
        a = p0 + (p1 - p0) * t_range[0]
        b = p0 + (p1 - p0) * t_range[1]
        box = self._box([a, b], max(r0, r1) + 1)
        if box is None:
            return
        sl, ys, xs = box
        d = p1 - p0
        length2 = float(d @ d) + 1e-6
        t_raw = ((ys - p0[0]) * d[0] + (xs - p0[1]) * d[1]) / length2
        t = np.minimum(np.maximum(t_raw, t_range[0]), t_range[1])
        dy = ys - (p0[0] + t * d[0])
        dx = xs - (p0[1] + t * d[1])
        r = r0 + t * (r1 - r0)
        dist2 = dy * dy + dx * dx
        mask = dist2 <= r * r
        if not rounded:
            mask &= (t_raw >= t_range[0]) & (t_raw <= t_range[1])
        if not mask.any():
            return
        t, dy, dx, r = t[mask], dy[mask], dx[mask], r[mask]  # all full-window arrays
        length = np.sqrt(length2)
        across = (dy * d[1] - dx * d[0]) / length  # signed distance across the axis
        shade = 1.0 - 0.3 * np.minimum(across * across / (r * r + 1e-6), 1.0)
        pattern = None
        if garment is not None:
            pattern = _pattern(garment, (t * length + extend[0]) / unit, across / unit + extend[1])
            colour = (garment.colour, garment.colour2)
        self._paint(sl, mask, label, colour, pattern, shade)

    def trapezoid(self, origin, axis, length, w0, w1, label, garment, unit, skin=None):
        """Region 0 <= along <= length, |across| <= w0 + (w1 - w0) along / length (torso, skirt)."""
        origin = np.asarray(origin, np.float32)
        axis = np.asarray(axis, np.float32)
        normal = np.array([-axis[1], axis[0]], np.float32)  # (y, x) rotated: points image-right
        end = origin + axis * length
        corners = [origin + normal * w0, origin - normal * w0, end + normal * w1, end - normal * w1]
        box = self._box(corners, 1)
        if box is None:
            return
        sl, ys, xs = box
        along = (ys - origin[0]) * axis[0] + (xs - origin[1]) * axis[1]
        across = (ys - origin[0]) * normal[0] + (xs - origin[1]) * normal[1]
        half = w0 + (w1 - w0) * np.minimum(np.maximum(along / length, 0.0), 1.0)
        mask = (along >= 0) & (along <= length) & (np.abs(across) <= half)
        if not mask.any():
            return
        along, across, half = along[mask], across[mask], half[mask]
        shade = 1.0 - 0.25 * np.minimum(across * across / (half * half + 1e-6), 1.0)
        pattern = _pattern(garment, along / unit, across / unit)
        self._paint(sl, mask, label, (garment.colour, garment.colour2), pattern, shade)

    def disc(self, centre, radius, label, colour, keep=None):
        """Filled circle; `keep(dy, dx)` further restricts it (hairline, hat line)."""
        box = self._box([centre], radius + 1)
        if box is None:
            return
        sl, ys, xs = box
        dy, dx = ys - centre[0], xs - centre[1]
        mask = dy * dy + dx * dx <= radius * radius
        if keep is not None:
            mask &= keep(dy, dx)
        if not mask.any():
            return
        dy, dx = np.broadcast_to(dy, mask.shape)[mask], np.broadcast_to(dx, mask.shape)[mask]
        shade = 1.0 - 0.2 * np.minimum((dy * dy + dx * dx) / (radius * radius), 1.0)
        self._paint(sl, mask, label, colour, None, shade)


def _pattern(garment: Garment, u, v):
    f = garment.frequency
    if garment.texture == "plain":
        return None
    if garment.texture == "stripes":
        return (u * f) % 1.0 < 0.5
    if garment.texture == "checks":
        return ((u * f) % 1.0 < 0.5) ^ ((v * f) % 1.0 < 0.5)
    fu = (u * f) % 1.0 - 0.5
    fv = (v * f) % 1.0 - 0.5
    return fu * fu + fv * fv < 0.09

