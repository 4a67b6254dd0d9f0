"""One configuration object for the PINet architecture.

`ModelConfig` describes both generators and both discriminators. Three presets:

* `official()` -- the authors' released code (``models/network20.py``): G_p widens early
  (64, 128, 128, 256), 3x3 output layers, G_p logits fed unchanged to G_i. Its generator has
  exactly 20,407,934 trainable parameters. This is the default because it produced the published
  checkpoint and numbers.
* `paper()` -- Table 1 of the paper: G_p keeps 64/128 channels at the stride-2 layers, 7x7 output
  layers, and G_i receives a parsing *distribution* (softmax of G_p; the one-hot ground truth in the
  paper's second training stage), so the same G_i serves both.
* `tiny()` -- same code path, small width and image size, for tests and smoke runs.

The config travels with checkpoints and exports as JSON (`to_json` / `from_json`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

NUM_KEYPOINTS = 18
NUM_CLASSES = 12

#: The 12 parsing classes and their ids (paper Sec. 3; the ids the official label maps use).
CLASS_NAMES = (
    "background", "hair", "upper-clothes", "dress", "pants", "neck",
    "skirt", "face", "hands", "legs", "shoes", "hat",
)

#: OpenPose COCO-18 keypoint order (what PATN's annotation CSV and heatmaps use).
KEYPOINT_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
    "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear",
)

_FEEDS = ("logits", "softmax")
#: The presets' names, in the order CLIs list them (`ModelConfig.preset`, `resolve_config`).
PRESETS = ("official", "paper", "tiny")


def dataclass_from_dict(cls, d: dict):
    """`cls(**d)`, refusing unknown keys by name (a typo in a JSON config must not pass silently)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
    return cls(**d)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters. Widths are multiples of `ngf` / `ndf`."""

    name: str = "official"
    image_height: int = 256
    image_width: int = 176
    ngf: int = 64
    # Widths of the four encoder layers before the 1/4-resolution trunk, in units of ngf
    # (layers 1..4: 7x7, 3x3 s2, 3x3, 3x3 s2). The trunk is 4*ngf wide.
    parsing_encoder_widths: tuple = (1, 2, 2, 4)
    image_encoder_widths: tuple = (1, 1, 2, 2)
    output_kernel_size: int = 3
    # How G_p's output enters G_i: raw "logits" (authors' code) or "softmax" (paper schedule).
    parsing_feed: str = "logits"
    ndf: int = 64
    discriminator_blocks: int = 3
    discriminator_dropout: float = 0.5
    spectral_norm: bool = True
    # Gaussian heatmap sigma in pixels at image_height 256; scaled linearly with the height.
    heatmap_sigma_at_256: float = 6.0

    def __post_init__(self):
        if self.image_height % 4 or self.image_width % 4:
            raise ValueError(
                f"image size must be divisible by 4 (two stride-2 layers), got "
                f"{self.image_height}x{self.image_width}")
        if self.parsing_feed not in _FEEDS:
            raise ValueError(f"parsing_feed must be one of {_FEEDS}, got {self.parsing_feed!r}")
        if self.output_kernel_size not in (3, 7):
            raise ValueError(f"output_kernel_size must be 3 or 7, got {self.output_kernel_size}")
        for field in ("parsing_encoder_widths", "image_encoder_widths"):
            widths = tuple(getattr(self, field))
            if len(widths) != 4:
                raise ValueError(f"{field} needs 4 entries, got {widths}")
            object.__setattr__(self, field, widths)

    # -- derived values -------------------------------------------------------------------
    @property
    def image_size(self) -> tuple:
        return (self.image_height, self.image_width)

    @property
    def num_keypoints(self) -> int:
        return NUM_KEYPOINTS

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES

    @property
    def heatmap_sigma(self) -> float:
        return self.heatmap_sigma_at_256 * self.image_height / 256.0

    # -- presets ------------------------------------------------------------------------
    @classmethod
    def official(cls) -> "ModelConfig":
        return cls()

    @classmethod
    def paper(cls) -> "ModelConfig":
        return cls(name="paper", parsing_encoder_widths=(1, 1, 2, 2), output_kernel_size=7,
                   parsing_feed="softmax")

    @classmethod
    def tiny(cls) -> "ModelConfig":
        return cls(name="tiny", image_height=64, image_width=44, ngf=16, ndf=16,
                   discriminator_blocks=1, parsing_feed="softmax")

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        presets = {"official": cls.official, "paper": cls.paper, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown config {name!r}; choose one of {sorted(presets)}")
        return presets[name]()

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return dataclass_from_dict(cls, d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))

    def save(self, path) -> None:
        with open(path, "w") as f:
            f.write(self.to_json() + "\n")

    @classmethod
    def load(cls, path) -> "ModelConfig":
        with open(path) as f:
            return cls.from_json(f.read())
