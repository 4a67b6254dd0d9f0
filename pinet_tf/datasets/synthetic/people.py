"""Who is drawn, and how they stand: an identity's fixed look and one image's pose, each sampled
from its own seeded generator (`identity_rng`, `pose_rng`), so a person looks the same in every
pose and the output does not depend on generation order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SKIN = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 128], [198, 134, 90],
                  [160, 100, 62], [110, 70, 45], [80, 52, 36]], np.float32)
_HAIR = np.array([[20, 16, 14], [60, 40, 25], [110, 72, 40], [170, 130, 70], [220, 190, 120],
                  [140, 40, 20], [120, 120, 120], [230, 230, 225]], np.float32)
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


def identity_rng(seed: int, identity: int):
    return np.random.default_rng([seed, identity, 0])


def pose_rng(seed: int, identity: int, pose: int):
    return np.random.default_rng([seed, identity, pose + 1])

