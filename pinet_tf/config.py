"""One configuration object for the PINet architecture.

`ModelConfig` describes both generators and both discriminators. Four presets:

* `official()` -- the authors' released code (``models/network20.py``): G_p widens early
  (64, 128, 128, 256), 3x3 output layers, G_p logits fed unchanged to G_i. Its generator has
  exactly 20,407,934 trainable parameters. This is the default because it produced the published
  checkpoint and numbers.
* `paper()` -- Table 1 of the paper: G_p keeps 64/128 channels at the stride-2 layers, 7x7 output
  layers, and G_i receives a parsing *distribution* (softmax of G_p; the one-hot ground truth in the
  paper's second training stage), so the same G_i serves both.
* `small()` -- 128x88, ngf 24: the quality benchmark's recipe size, trainable on a CPU in about an
  hour (`benchmarks/quality.py`).
* `tiny()` -- same code path, small width and image size, for tests and smoke runs.

Every preset also takes the ablation fields of paper Table 3: `convolution="vanilla"` ("w/ VC")
and `stages=1` (the one-level "One w/ GC": no parsing generator, G_i fed the source image and the
source and target poses only; with `convolution="vanilla"`, "One w/ VC").

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

#: `ModelConfig.parsing_feed`: how G_p's output enters G_i. "logits": unchanged (the authors'
#: code). "softmax": a distribution (the paper schedule). "onehot": the one-hot of G_p's argmax,
#: the same kind of input as the one-hot ground truth G_i is trained on in the paper's second
#: phase. Measured (issue 24, tiny size, 2,500 G_i steps of phase 2): fed the softmax, G_i drew
#: several smeared overlapping ghosts where the one-hot guide gave one clean person, because it had
#: only ever seen one-hot guides; "onehot" removes that train/inference mismatch. Not official.
FEEDS = ("logits", "softmax", "onehot")
#: `ModelConfig.convolution`: the paper's gated convolution or the "vanilla" ablation (Table 3).
CONVOLUTIONS = ("gated", "vanilla")
#: `ModelConfig.stages`: 2 = PINet (G_p then G_i); 1 = the one-level ablation (G_i alone).
STAGES = (1, 2)
#: The presets' names, in the order CLIs list them (`ModelConfig.preset`, `resolve_config`).
PRESETS = ("official", "paper", "small", "tiny")
#: `ModelConfig.output_clamp`: how G_i's output is held in [-1, 1]. "hard" is the authors' clamp
#: (zero gradient wherever the output is saturated, so a region pushed past -1 early in training,
#: typically a dark garment or hair, can never come back and stays exactly black). "straight_through"
#: clamps the same way in the forward pass but passes the gradient through unchanged, so saturated
#: pixels keep learning. A non-official option (the forward pass is identical; only training
#: differs); the `small` preset uses it, the official and paper presets never do.
OUTPUT_CLAMPS = ("hard", "straight_through")


def dataclass_from_dict(cls, d: dict):
    """`cls(**d)`, refusing unknown keys by name (a typo in a JSON config must not pass silently)."""
    if not isinstance(d, dict):
        raise ValueError(f"expected a JSON object of {cls.__name__} fields, got "
                         f"{type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
    for name, value in d.items():
        default = fields[name].default
        if default is dataclasses.MISSING and fields[name].default_factory is not \
                dataclasses.MISSING:
            default = fields[name].default_factory()
        kind = {bool: (bool,), int: (int,), float: (int, float), str: (str,),
                tuple: (list, tuple), dict: (dict,)}.get(type(default))
        if kind and (not isinstance(value, kind) or (bool not in kind
                                                      and isinstance(value, bool))):
            raise ValueError(f"field {name!r} must be {_KIND_NAMES[kind]}, got "
                             f"{str(value)[:40]!r} ({type(value).__name__})")
    return cls(**d)


_KIND_NAMES = {(bool,): "true or false", (int,): "an integer", (int, float): "a number",
               (str,): "a string", (list, tuple): "a list", (dict,): "an object"}


def load_config_file(cls, path, what: str):
    """`cls` from the JSON file `path`: a truncated file, wrong types or unknown fields are one
    ValueError naming the file (`utils.readers.read_json` for the JSON itself)."""
    from pinet_tf.utils.readers import read_json

    data = read_json(path, what)
    try:
        return dataclass_from_dict(cls, data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a valid {what} ({' '.join(str(e).split())[:300]})") \
            from None


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
    # How G_p's output enters G_i: raw "logits" (authors' code), "softmax" (paper schedule) or
    # "onehot" (argmax, one-hot: what G_i sees in the paper's phase 2; `FEEDS`).
    parsing_feed: str = "logits"
    # "gated" (PINet) or "vanilla": every gated convolution of both generators becomes a plain
    # convolution of the same geometry and width (paper Table 3, "w/ VC"); any preset takes it.
    convolution: str = "gated"
    # 2: PINet (G_p, then G_i guided by its parsing). 1: paper Table 3's one-level variant, no
    # G_p; G_i takes (source image, source heatmaps, target heatmaps) and nothing of parsing.
    stages: int = 2
    # "hard" (authors) or "straight_through" (same forward pass; gradient through the clamp).
    output_clamp: str = "hard"
    # BatchNorm on G_i's last layer, after its gating and before the clamp, as on every layer of
    # the authors' code (the paper does not say); False drops it there (G_p keeps its own). Not
    # official. Asked whether it makes the person-weighted runs' stray marks: no (without it
    # the 11,000-step recipe marked 15.8% of held-out pictures against 12.5%, and drew the
    # person worse: 0.99x paint-by-parsing against 0.92x; docs/results/appearance.md item 13).
    output_batch_norm: bool = True
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
        if self.ngf < 2 or self.ngf % 2:  # False and True fail here as 0 and 1
            raise ValueError(f"ngf must be an even number >= 2 (the attention needs a trunk of "
                             f"4*ngf channels divisible by 8), got {self.ngf}")
        if isinstance(self.ndf, bool) or self.ndf < 1:
            raise ValueError(f"ndf must be >= 1, got {self.ndf}")
        if self.parsing_feed not in FEEDS:
            raise ValueError(f"parsing_feed must be one of {FEEDS}, got {self.parsing_feed!r}")
        if self.convolution not in CONVOLUTIONS:
            raise ValueError(
                f"convolution must be one of {CONVOLUTIONS}, got {self.convolution!r}")
        if self.stages not in STAGES or isinstance(self.stages, bool):
            raise ValueError(f"stages must be one of {STAGES}, got {self.stages!r}")
        if self.output_clamp not in OUTPUT_CLAMPS:
            raise ValueError(
                f"output_clamp must be one of {OUTPUT_CLAMPS}, got {self.output_clamp!r}")
        if self.output_kernel_size not in (3, 7):
            raise ValueError(f"output_kernel_size must be 3 or 7, got {self.output_kernel_size}")
        if not 0 <= self.discriminator_dropout < 1:
            raise ValueError(f"discriminator_dropout must be in [0, 1), got "
                             f"{self.discriminator_dropout}")
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
    def has_parsing(self) -> bool:
        """Whether the model has G_p: takes a source parsing and predicts a target parsing."""
        return self.stages == 2

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
    def small(cls) -> "ModelConfig":
        """128x88, ngf 24: the quality benchmark's size (`benchmarks/quality.py`), between `tiny`
        and `official`; about 9x tiny's cost per step. Its output clamp is straight-through
        (`OUTPUT_CLAMPS`), so dark garments do not freeze at black."""
        return cls(name="small", image_height=128, image_width=88, ngf=24, ndf=24,
                   discriminator_blocks=2, parsing_feed="softmax", output_clamp="straight_through")

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)} or a "
                             f"config JSON file")
        return getattr(cls, name)()

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
        from pinet_tf.utils.atomic import write_text

        write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path) -> "ModelConfig":
        return load_config_file(cls, path, "model config (ModelConfig JSON)")


def resolve_config(value) -> ModelConfig:
    """A `ModelConfig`, a preset name (`PRESETS`) or the path of a config JSON file: what every
    CLI's `--config` takes."""
    import os

    if isinstance(value, ModelConfig):
        return value
    if value in PRESETS:
        return ModelConfig.preset(value)
    if value.endswith(".json") or os.path.sep in value or os.path.exists(value):
        if os.path.isdir(value):
            raise ValueError(f"--config: {value} is a directory, expected a preset "
                             f"({', '.join(PRESETS)}) or a config JSON file")
        if not os.path.isfile(value):
            raise FileNotFoundError(f"--config: no such config file: {value}")
        return ModelConfig.load(value)
    return ModelConfig.preset(value)
