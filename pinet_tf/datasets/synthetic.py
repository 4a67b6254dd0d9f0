"""Synthetic people: a procedural data set with DeepFashion's structure, for first runs and tests.

No machine here can download DeepFashion, so the project ships a generator that writes *the same
on-disk layout* as the authors' data (``train/``, ``test/``, ``trainSPL2/``, ``testSPL2/`` and the
two CSVs per split, see `pinet_tf.datasets.patn`), so one reader and one converter serve both.

Each identity has a fixed look (skin tone, hair style and colour, textured upper garment, pants /
shorts / skirt / dress, shoes, sometimes a hat, body build) and its own backdrop, like one
DeepFashion in-shop item shot in one studio: a near-white plain wall (a vertical gradient between
two pale tints, 205-240 grey levels) whose tint varies a little across identities but not across
one identity's poses. Near-white and plain because that is what DeepFashion's in-shop studio
walls are, and because it puts the difficulty where pose transfer's is: the person. Earlier
versions drew mid-tone walls with a floor and boxes: the tiny model could not learn to carry them
through its 1/4-resolution trunk in a CI-sized run, so its held-out L1 stayed at the mean image's
(measured 2026-11-25, see `tests/fixtures_training.py`). Each pose draws that identity from a
2D kinematic skeleton (random joint angles, scale, position, front or back view) with the parts
in depth order. The 12-class parsing map and the 18 COCO keypoints come
from the same geometry, so they are exact. Garment textures are evaluated in the frame of the body
part they are printed on (distance along and across the limb / torso, in units of the person's
height), so an identity looks the same in every pose and pose transfer on it is well posed.

Everything is a function of ``(seed, identity index, pose index)`` (numpy ``default_rng`` seeded
with that triple), so output is byte-identical for a seed and independent of generation order.
Drawing is vectorised numpy on each part's bounding box: several hundred images/s at 256x176 on
one core (see ``benchmarks/stages/data.py``).

Images are written as lossless PNG at the requested size (no 256x256 originals, so the reader's
40..216 column crop never applies to synthetic data).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES

C = {name: i for i, name in enumerate(CLASS_NAMES)}
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

_SKIN = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 128], [198, 134, 90],
                  [160, 100, 62], [110, 70, 45], [80, 52, 36]], np.float32)
_HAIR = np.array([[20, 16, 14], [60, 40, 25], [110, 72, 40], [170, 130, 70], [220, 190, 120],
                  [140, 40, 20], [120, 120, 120], [230, 230, 225]], np.float32)
_RANGE = np.arange(4096, dtype=np.float32)  # pixel coordinates, sliced per window
_TEXTURES = ("plain", "stripes", "checks", "dots")
_LOWERS = ("pants", "shorts", "skirt", "dress")
_HAIRSTYLES = ("short", "long", "bun", "bald")
_SLEEVES = ("none", "short", "long")


def _colour(rng) -> np.ndarray:
    """A garment colour: saturated or muted, never exactly grey-on-grey with the background."""
    h = rng.uniform(0, 6)
    s = rng.uniform(0.2, 0.9)
    v = rng.uniform(0.25, 0.95)
    i = int(h) % 6
    f = h - int(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, np.float32) * 255


@dataclass(frozen=True)
class Garment:
    colour: np.ndarray
    colour2: np.ndarray
    texture: str
    frequency: float  # pattern repeats per person height


@dataclass(frozen=True)
class Identity:
    """What stays constant across one person's images."""

    skin: np.ndarray
    hair: np.ndarray
    hairstyle: str
    upper: Garment
    sleeves: str
    lower: str
    lower_garment: Garment
    shoes: np.ndarray
    hat: np.ndarray | None
    build: float  # width multiplier
    head: float  # head size multiplier
    legs: float  # leg length multiplier
    background: tuple  # (top colour, bottom colour): a near-white vertical gradient

    @classmethod
    def sample(cls, rng) -> "Identity":
        def garment():
            return Garment(_colour(rng), _colour(rng), _TEXTURES[rng.integers(4)],
                           float(rng.uniform(8, 22)))
        skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.95, 1.05)
        lower = _LOWERS[rng.integers(4)]
        upper = garment()
        values = dict(
            skin=np.clip(skin, 0, 255), hair=_HAIR[rng.integers(len(_HAIR))],
            hairstyle=_HAIRSTYLES[rng.choice(4, p=[0.4, 0.35, 0.15, 0.1])],
            upper=upper, sleeves=_SLEEVES[rng.integers(3)], lower=lower,
            lower_garment=upper if lower == "dress" else garment(),
            shoes=_colour(rng) * 0.6,
            hat=_colour(rng) if rng.uniform() < 0.25 else None,
            build=float(rng.uniform(0.88, 1.15)), head=float(rng.uniform(0.92, 1.08)),
            legs=float(rng.uniform(0.94, 1.06)))
        # Drawn last, so the person's look does not depend on it.
        background = (tuple(_colour(rng) * 0.1 + 215), tuple(_colour(rng) * 0.1 + 205))
        return cls(background=background, **values)


@dataclass(frozen=True)
class Pose:
    """One image's camera and joint angles (radians, 0 = hanging straight down the torso axis)."""

    height: float  # person height in pixels
    pelvis: tuple  # (y, x) pixels
    lean: float
    facing: int  # +1 front view, -1 back view
    arms: tuple  # ((upper, lower) right, (upper, lower) left), outward positive
    legs: tuple
    arm_in_front: tuple  # (right, left)
    foreshorten: tuple  # length multipliers: upper arm, forearm, thigh, shin (right, left)
    head_turn: float

    @classmethod
    def sample(cls, rng, image_height: int, image_width: int) -> "Pose":
        h = image_height * rng.uniform(0.78, 0.95)
        top = rng.uniform(0.02, 0.98 * image_height - h) if 0.98 * image_height > h + 0.02 else 0.0
        pelvis = (top + 0.52 * h, image_width * rng.uniform(0.42, 0.58))
        arms = tuple((float(rng.uniform(-0.25, 2.4)), float(rng.uniform(-0.6, 1.8)))
                     for _ in range(2))
        legs = tuple((float(rng.uniform(-0.2, 0.55)), float(rng.uniform(-0.35, 0.35)))
                     for _ in range(2))
        return cls(height=float(h), pelvis=tuple(float(p) for p in pelvis),
                   lean=float(rng.uniform(-0.12, 0.12)),
                   facing=1 if rng.uniform() < 0.65 else -1, arms=arms, legs=legs,
                   arm_in_front=tuple(bool(rng.uniform() < 0.8) for _ in range(2)),
                   foreshorten=tuple(float(x) for x in rng.uniform(0.8, 1.0, size=8)),
                   head_turn=float(rng.uniform(-0.25, 0.25)))


class _Canvas:
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


def _rot(vec, angle, side):
    """Rotate a (y, x) direction by `angle` towards image side `side` (+1 right, -1 left)."""
    c, s = np.cos(angle), np.sin(angle) * side
    return np.array([vec[0] * c - vec[1] * s, vec[1] * c + vec[0] * s], np.float32)


def render(identity: Identity, pose: Pose, image_height: int, image_width: int):
    """Draw one image. Returns (uint8 [H,W,3] image, uint8 [H,W] parsing, int [18,2] keypoints)."""
    h = pose.height
    bw = identity.build
    canvas = _Canvas(identity.background, image_height, image_width)
    down = np.array([np.cos(pose.lean), np.sin(pose.lean)], np.float32)  # torso axis, (y, x)
    normal = np.array([-down[1], down[0]], np.float32)  # points image-right
    pelvis = np.array(pose.pelvis, np.float32)
    torso_len = 0.30 * h
    neck = pelvis - down * torso_len
    head_r = 0.068 * h * identity.head
    head = neck - down * (0.045 * h + head_r)
    # Person's right side is image-left in a front view and image-right in a back view.
    right_side = -pose.facing
    sides = {"right": right_side, "left": -right_side}
    sh_w, hip_w = 0.105 * h * bw, 0.052 * h * bw
    joints = {}
    fs = pose.foreshorten
    for k, (name, side) in enumerate(sides.items()):
        shoulder = neck + normal * side * sh_w
        up_a, lo_a = pose.arms[k]
        d1 = _rot(down, up_a, side)
        elbow = shoulder + d1 * 0.165 * h * fs[4 * k]
        d2 = _rot(d1, lo_a, side)
        wrist = elbow + d2 * 0.15 * h * fs[4 * k + 1]
        hip = pelvis + normal * side * hip_w
        th_a, sh_a = pose.legs[k]
        d3 = _rot(down, th_a * 0.5, side)
        knee = hip + d3 * 0.235 * h * identity.legs * fs[4 * k + 2]
        d4 = _rot(d3, sh_a, side)
        ankle = knee + d4 * 0.225 * h * identity.legs * fs[4 * k + 3]
        joints[name] = dict(shoulder=shoulder, elbow=elbow, wrist=wrist, hand_dir=d2, hip=hip,
                            knee=knee, ankle=ankle, shin_dir=d4, side=side)
    unit = h  # texture coordinates in person heights: the same print in every pose
    skin = identity.skin
    up, low = identity.upper, identity.lower_garment
    is_dress = identity.lower == "dress"
    torso_label = C["dress"] if is_dress else C["upper-clothes"]

    def hair_back():
        if identity.hairstyle == "long":
            canvas.capsule(head, neck + down * 0.09 * h, head_r * 0.95, head_r * 0.85, C["hair"],
                           identity.hair)

    def arm(name):
        j = joints[name]
        ra, rf = 0.034 * h * bw, 0.028 * h * bw
        canvas.capsule(j["shoulder"], j["elbow"], ra, rf, C["hands"], skin)
        canvas.capsule(j["elbow"], j["wrist"], rf, rf * 0.85, C["hands"], skin)
        canvas.disc(j["wrist"] + j["hand_dir"] * 0.02 * h, 0.03 * h, C["hands"], skin)
        if identity.sleeves != "none" and not is_dress:
            canvas.capsule(j["shoulder"], j["elbow"], ra * 1.2, rf * 1.15, torso_label, None,
                           up, unit, t_range=(0.0, 0.55 if identity.sleeves == "short" else 1.0))
            if identity.sleeves == "long":
                canvas.capsule(j["elbow"], j["wrist"], rf * 1.15, rf * 1.05, torso_label, None,
                               up, unit, (0.165 * h, 0.0))

    def leg(name):
        j = joints[name]
        rt, rs = 0.05 * h * bw, 0.038 * h * bw
        canvas.capsule(j["hip"], j["knee"], rt, rs, C["legs"], skin)
        canvas.capsule(j["knee"], j["ankle"], rs, rs * 0.8, C["legs"], skin)
        if identity.lower in ("pants", "shorts"):
            canvas.capsule(j["hip"], j["knee"], rt * 1.12, rs * 1.12, C["pants"], None, low, unit,
                           rounded=False, t_range=(0.0, 0.6 if identity.lower == "shorts" else 1.0))
            if identity.lower == "pants":
                canvas.capsule(j["knee"], j["ankle"], rs * 1.12, rs * 1.0, C["pants"], None, low,
                               unit, (0.235 * h, 0.0))
        toe = j["ankle"] + j["shin_dir"] * 0.03 * h
        foot = j["ankle"] + np.array([0.02 * h, 0.0], np.float32)
        canvas.capsule(foot, toe + np.array([0.035 * h, 0.0], np.float32), 0.03 * h, 0.03 * h,
                       C["shoes"], identity.shoes)

    # Back to front.
    if pose.facing > 0:
        hair_back()
    for name in ("right", "left"):
        if not pose.arm_in_front[0 if name == "right" else 1]:
            arm(name)
    for name in ("right", "left"):
        leg(name)
    canvas.capsule(neck - down * 0.06 * h, neck, 0.032 * h, 0.036 * h, C["neck"], skin)
    if identity.lower in ("skirt", "dress"):
        canvas.trapezoid(pelvis - down * 0.03 * h, down, 0.26 * h, hip_w * 2.0, hip_w * 3.0,
                         C["dress"] if is_dress else C["skirt"], low, unit)
    if identity.lower in ("pants", "shorts"):
        canvas.trapezoid(pelvis - down * 0.04 * h, down, 0.05 * h, hip_w * 1.95, hip_w * 2.0,
                         C["pants"], low, unit)
    canvas.trapezoid(neck, down, torso_len * 0.97, sh_w * 1.05, hip_w * 1.95, torso_label, up, unit)
    if pose.facing < 0:
        hair_back()
    # Head: face with a hairline in front views, all hair from behind (the face is hidden).
    turn = pose.head_turn * head_r
    if pose.facing > 0:
        canvas.disc(head, head_r, C["face"], skin)
        if identity.hairstyle != "bald":
            line = -0.35 * head_r
            canvas.disc(head, head_r * 1.06, C["hair"], identity.hair,
                        keep=lambda dy, dx: dy * down[0] + dx * down[1] < line)
        for side in (-1, 1):
            eye = head + normal * (side * 0.38 * head_r + turn) - down * 0.05 * head_r
            canvas.disc(eye, max(0.09 * head_r, 0.6), C["face"], (30, 25, 25))
    else:
        canvas.disc(head, head_r, C["face"], skin,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] > 0.75 * head_r)
        canvas.disc(head, head_r * (1.0 if identity.hairstyle == "bald" else 1.06),
                    C["hair"] if identity.hairstyle != "bald" else C["face"],
                    identity.hair if identity.hairstyle != "bald" else skin,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] <= 0.75 * head_r)
    if identity.hairstyle == "bun":
        canvas.disc(head - down * head_r * 1.0, head_r * 0.45, C["hair"], identity.hair)
    if identity.hat is not None:
        canvas.disc(head, head_r * 1.12, C["hat"], identity.hat,
                    keep=lambda dy, dx: dy * down[0] + dx * down[1] < -0.45 * head_r)
        canvas.capsule(head - down * 0.45 * head_r + normal * 1.35 * head_r,
                       head - down * 0.45 * head_r - normal * 1.35 * head_r,
                       0.1 * head_r, 0.1 * head_r, C["hat"], identity.hat * 0.8)
    for name in ("right", "left"):
        if pose.arm_in_front[0 if name == "right" else 1]:
            arm(name)

    # Keypoints (y, x), COCO-18.
    kp = np.full((len(KEYPOINT_NAMES), 2), -1.0, np.float32)
    for name, j in joints.items():
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            kp[K[f"{name}_{part}"]] = j[part]
    kp[K["neck"]] = neck
    if pose.facing > 0:  # the face is only visible from the front
        kp[K["nose"]] = head + normal * turn + down * 0.25 * head_r
        for name, j in joints.items():
            kp[K[f"{name}_eye"]] = head + normal * (j["side"] * 0.38 * head_r + turn) \
                - down * 0.05 * head_r
    for name, j in joints.items():
        kp[K[f"{name}_ear"]] = head + normal * j["side"] * 0.98 * head_r
    kp = np.round(kp).astype(np.int32)
    outside = (kp[:, 0] < 0) | (kp[:, 0] >= image_height) | (kp[:, 1] < 0) | \
        (kp[:, 1] >= image_width)
    kp[outside] = -1
    return canvas.image, canvas.parsing, kp


def identity_rng(seed: int, identity: int):
    return np.random.default_rng([seed, identity, 0])


def pose_rng(seed: int, identity: int, pose: int):
    return np.random.default_rng([seed, identity, pose + 1])


def sample(seed: int, identity: int, pose: int, image_height: int = 256, image_width: int = 176):
    """Image, parsing, keypoints and view ("front"/"back") of one (identity, pose); deterministic."""
    ident = Identity.sample(identity_rng(seed, identity))
    p = Pose.sample(pose_rng(seed, identity, pose), image_height, image_width)
    image, parsing, kp = render(ident, p, image_height, image_width)
    return image, parsing, kp, "front" if p.facing > 0 else "back"


# -- the authors' on-disk layout ------------------------------------------------------------------

@dataclass(frozen=True)
class SplitPlan:
    train_identities: tuple
    test_identities: tuple


def split_identities(identities: int, test_fraction: float) -> SplitPlan:
    """Disjoint identity ranges: the last ``ceil(test_fraction * N)`` (>= 1 when N >= 2) are test."""
    if identities < 2:
        raise ValueError(f"--identities must be >= 2 (one train, one test), got {identities}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test fraction must be in (0, 1), got {test_fraction}")
    n_test = min(max(int(np.ceil(test_fraction * identities)), 1), identities - 1)
    n_train = identities - n_test
    return SplitPlan(tuple(range(n_train)), tuple(range(n_train, identities)))


def image_name(identity: int, pose: int, view: str) -> str:
    return f"synth{identity:05d}_{pose:02d}{view}.png"


def _save_png(array, path):
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


def write_dataset(out: str, identities: int, poses_per_identity: int,
                  size: tuple = (256, 176), seed: int = 0, test_fraction: float = 0.1,
                  progress=None) -> dict:
    """Write the synthetic set in the authors' layout under `out`. Returns counts per split.

    Pairs are all ordered pairs of different poses of one identity (K*(K-1) per identity).
    """
    from pinet_tf.datasets import patn

    height, width = size
    if poses_per_identity < 2:
        raise ValueError(f"--poses-per-identity must be >= 2 to make pairs, got {poses_per_identity}")
    if height % 4 or width % 4 or height < 32 or width < 24:
        raise ValueError(f"--size must be at least 32x24 and divisible by 4, got {height}x{width}")
    plan = split_identities(identities, test_fraction)
    counts = {}
    for split, ids in (("train", plan.train_identities), ("test", plan.test_identities)):
        img_dir = os.path.join(out, split)
        par_dir = os.path.join(out, split + "SPL2")
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(par_dir, exist_ok=True)
        annotations, pairs = [], []
        for ident in ids:
            names = []
            for pose in range(poses_per_identity):
                image, parsing, kp, view = sample(seed, ident, pose, height, width)
                name = image_name(ident, pose, view)
                _save_png(image, os.path.join(img_dir, name))
                _save_png(parsing, os.path.join(par_dir, os.path.splitext(name)[0] + ".png"))
                annotations.append((name, kp))
                names.append(name)
                if progress:
                    progress(1)
            pairs += [(a, b) for a in names for b in names if a != b]
        patn.write_annotations(os.path.join(out, patn.annotation_csv(split)), annotations)
        patn.write_pairs(os.path.join(out, patn.pairs_csv(split)), pairs)
        counts[split] = {"identities": len(ids), "images": len(annotations), "pairs": len(pairs)}
    return counts


def parse_size(text: str) -> tuple:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 256x176 (HEIGHTxWIDTH), got {text!r}") from None
    return h, w


__all__ = ["Identity", "Pose", "render", "sample", "write_dataset", "split_identities",
           "image_name", "parse_size"]
