"""Reader (and writer) of the authors' on-disk layout, used for DeepFashion and the synthetic set.

    DATA/
      train/, test/                 person images (.jpg or .png)
      trainSPL2/, testSPL2/         12-class parsing label PNGs, named <image stem>.png
      fasion-resize-annotation-{train,test}.csv   name:keypoints_y:keypoints_x (header row),
                                    rows "<name>: [y0, ..., y17]: [x0, ..., x17]", -1 = missing
      fasion-resize-pairs-{train,test}.csv        from,to (header row)

Crop rule: DeepFashion images may be 256x256 originals and the parsing maps are always 256x256,
while the keypoints are in the 256x176 frame. A picture (image or parsing map) that is exactly
256x256 is cropped to columns 40..215 (Python slice 40:216) -> 256x176; any other size is used as
is (the synthetic set is written at its final size, so the crop never applies to it). After that,
image and parsing must have the same size and every keypoint must lie inside it.

Every error names the file (and the CSV line) and what was expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pinet_tf.config import NUM_CLASSES
from pinet_tf.utils.atomic import atomic_file
from pinet_tf.utils.drawing import PARSING_PALETTE
from pinet_tf.utils.keypoint_files import ANNOTATION_HEADER, Annotation  # noqa: F401 (re-export)
from pinet_tf.utils.keypoint_files import read_annotations as _read_annotations
from pinet_tf.utils.readers import bad_label, check_dir, read_image, read_label_map, read_text
from pinet_tf.utils.paths import plain_name

SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
PAIRS_HEADER = "from,to"
CROP_FROM, CROP_TO = 40, 216  # 256x256 -> 256x176


def annotation_csv(split: str) -> str:
    return f"fasion-resize-annotation-{split}.csv"


def pairs_csv(split: str) -> str:
    return f"fasion-resize-pairs-{split}.csv"


def parsing_dir(split: str) -> str:
    return split + "SPL2"


# -- CSV writing (synthetic set) ------------------------------------------------------------------

def _fmt(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def write_annotations(path: str, rows) -> None:
    """rows: iterable of (name, int keypoints [18, 2] (y, x), -1 missing)."""
    with atomic_file(path, "w") as f:
        f.write(ANNOTATION_HEADER + "\n")
        for name, kp in rows:
            kp = np.asarray(kp)
            f.write(f"{name}: {_fmt(kp[:, 0])}: {_fmt(kp[:, 1])}\n")


def write_pairs(path: str, pairs) -> None:
    with atomic_file(path, "w") as f:
        f.write(PAIRS_HEADER + "\n")
        for a, b in pairs:
            f.write(f"{a},{b}\n")


# -- CSV reading (the annotation CSV's reader is the one of every keypoint file) ----------------

def read_annotations(path: str) -> dict:
    """name -> Annotation (`utils.keypoint_files.read_annotations`): a malformed row, a non-finite
    number or a name annotated twice with different keypoints raises ValueError naming file and
    line(s)."""
    return _read_annotations(path)


def read_pairs(path: str) -> list:
    """List of (from name, to name, line number)."""
    lines = [line.rstrip("\r") for line in read_text(path, "pairs CSV").split("\n")]
    if not lines[0].strip() or lines[0].replace(" ", "") != PAIRS_HEADER:
        got = lines[0] if lines[0].strip() else "an empty first line"
        raise ValueError(f"{path}:1: expected header {PAIRS_HEADER!r}, got {got!r}")
    pairs = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{path}:{number}: malformed pairs row (expected 'from,to'): "
                             f"{line[:120]!r}")
        pairs.append((plain_name(parts[0], f"{path}:{number}", "image name"),
                      plain_name(parts[1], f"{path}:{number}", "image name"), number))
    return pairs


# -- pictures -------------------------------------------------------------------------------------

def crop_if_original(array: np.ndarray) -> np.ndarray:
    """256x256 originals -> 256x176 (columns 40..215); anything else unchanged."""
    if array.shape[0] == 256 and array.shape[1] == 256:
        return array[:, CROP_FROM:CROP_TO]
    return array


def load_image(path: str) -> np.ndarray:
    """uint8 [H, W, 3] after the crop rule."""
    return crop_if_original(read_image(path, "image"))


def load_parsing(path: str) -> np.ndarray:
    """uint8 [H, W] labels 0..11 after the crop rule (`utils.readers.read_label_map`'s policy on
    image modes); a label > 11 raises naming the file."""
    labels = read_label_map(path, "parsing map", palette=PARSING_PALETTE)
    bad = bad_label(labels, NUM_CLASSES)
    if bad:
        raise ValueError(f"{path}: label {bad[0]} outside 0..{NUM_CLASSES - 1} (at {bad[1]}; "
                         f"expected the 12 classes; convert 20-label parser output with "
                         f"`pinet-tf convert-parsing`)")
    return crop_if_original(labels.astype(np.uint8))


def find_image(root: str, split: str, name: str) -> str:
    path = os.path.join(root, split, name)
    if os.path.isfile(path):
        return path
    stem = os.path.splitext(name)[0]
    for ext in IMAGE_EXTENSIONS:  # the reader accepts .jpg and .png whatever the CSV says
        alt = os.path.join(root, split, stem + ext)
        if os.path.isfile(alt):
            return alt
    return path


@dataclass(frozen=True)
class Example:
    name: str
    image: np.ndarray  # uint8 [H, W, 3]
    parsing: np.ndarray  # uint8 [H, W]
    keypoints: np.ndarray  # float32 [18, 2]


class PatnReader:
    """One split of the authors' layout: pairs of validated examples."""

    def __init__(self, root: str, split: str):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        check_dir(root, "data directory")
        self.root, self.split = root, split
        self.annotations = read_annotations(os.path.join(root, annotation_csv(split)))
        self.pairs_file = os.path.join(root, pairs_csv(split))
        self.pairs = read_pairs(self.pairs_file)

    def __len__(self):
        return len(self.pairs)

    def example(self, name: str, referenced_at: str = "") -> Example:
        where = f" (referenced at {referenced_at})" if referenced_at else ""
        if name not in self.annotations:
            raise ValueError(f"{name}{where}: no row for it in "
                             f"{os.path.join(self.root, annotation_csv(self.split))}")
        ann = self.annotations[name]
        image_path = find_image(self.root, self.split, name)
        if os.path.isdir(image_path):
            raise IsADirectoryError(f"{image_path}: is a folder, expected an image{where}")
        if not os.path.isfile(image_path):
            raise FileNotFoundError(f"missing image {image_path}{where}")
        parsing_path = os.path.join(self.root, parsing_dir(self.split),
                                    os.path.splitext(name)[0] + ".png")
        if os.path.isdir(parsing_path):
            raise IsADirectoryError(f"{parsing_path}: is a folder, expected a parsing map{where}")
        if not os.path.isfile(parsing_path):
            raise FileNotFoundError(f"missing parsing map {parsing_path}{where}")
        image = load_image(image_path)
        parsing = load_parsing(parsing_path)
        if image.shape[:2] != parsing.shape:
            raise ValueError(f"size mismatch: {image_path} is {image.shape[0]}x{image.shape[1]} "
                             f"but {parsing_path} is {parsing.shape[0]}x{parsing.shape[1]} "
                             f"(after cropping 256x256 originals to 256x176)")
        kp = ann.keypoints
        h, w = parsing.shape
        present = kp != -1
        bad = present & ((kp < 0) | (kp >= np.array([h, w], np.float32)))
        if bad.any():
            k = int(np.nonzero(bad.any(axis=1))[0][0])
            raise ValueError(f"{ann.file}:{ann.line}: keypoint {k} (y={kp[k, 0]:g}, "
                             f"x={kp[k, 1]:g}) of {name} is outside the {h}x{w} image")
        kp = np.where(present.all(axis=1, keepdims=True), kp, -1.0).astype(np.float32)
        return Example(name, image, parsing, kp)

    def iter_pairs(self, start: int = 0, stop: int | None = None):
        """Yields (source Example, target Example) for rows [start, stop) of the pairs CSV."""
        cache = {}
        for a, b, line in self.pairs[start:stop]:
            at = f"{self.pairs_file}:{line}"
            src = cache.get(a) or self.example(a, at)
            tgt = cache.get(b) or self.example(b, at)
            cache = {a: src, b: tgt}  # consecutive pairs often share the source
            yield src, tgt
