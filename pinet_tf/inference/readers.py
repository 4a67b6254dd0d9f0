"""Reading the files a user actually has: a photo, keypoints, a parsing map.

Every reader returns the project's compact form (uint8 image [h,w,3]; (y, x) keypoints [18,2]
in COCO-18 order with -1 for missing; uint8 labels [h,w] in the 12 PINet classes) and raises
ValueError / FileNotFoundError naming the file and what is wrong with it.

Keypoint formats (chosen from the file's content):
* OpenPose JSON: ``people[0].pose_keypoints_2d`` as x, y, confidence triples, COCO-18 (54
  numbers) or BODY_25 (75 numbers; its COCO-18 subset is used).
* COCO-17 JSON: ``{"keypoints": [...51]}``, a COCO results list, or a COCO annotation file
  (first annotation with keypoints); converted to COCO-18 with the neck at the midpoint of the
  shoulders when both are confident.
* PATN annotation CSV (``name:keypoints_y:keypoints_x``): ``FILE.csv#IMAGE_NAME`` picks a row; a
  CSV with one row needs no name.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES, NUM_CLASSES

NUM_KEYPOINTS = len(KEYPOINT_NAMES)
DEFAULT_MIN_CONFIDENCE = 0.1

#: COCO-17 order (the COCO keypoint task / most detectors).
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: OpenPose BODY_25 indices of the COCO-18 points (BODY_25 = COCO-18 + mid-hip and feet).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)



# -- images ------------------------------------------------------------------------------------
def read_image(path) -> np.ndarray:
    """Any PIL-readable photo -> uint8 RGB [h,w,3] (alpha dropped, greyscale expanded)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{path}: cannot read image ({e})") from e


# -- keypoints ---------------------------------------------------------------------------------
def _confident(triples: np.ndarray, min_confidence: float) -> np.ndarray:
    """x, y, c triples [K,3] -> (y, x) [K,2] with -1 where c is 0 or below the threshold."""
    c = triples[:, 2]
    keep = (c > 0) & (c >= min_confidence) & (triples[:, 0] >= 0) & (triples[:, 1] >= 0)
    out = np.stack([triples[:, 1], triples[:, 0]], axis=-1).astype(np.float32)
    out[~keep] = -1.0
    return out


def _triples(values, path, field) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {field} must be a list of numbers ({e})") from e
    if arr.size % 3:
        raise ValueError(f"{path}: {field} must hold x, y, confidence triples; got "
                         f"{arr.size} numbers")
    return arr.reshape(-1, 3)


def coco17_to_coco18(triples: np.ndarray, min_confidence: float) -> np.ndarray:
    """COCO-17 x, y, c triples [17,3] -> COCO-18 (y, x) [18,2]; the neck (absent from COCO) is
    the midpoint of the two shoulders when both are confident, else missing."""
    yx = _confident(triples, min_confidence)
    out = np.full((NUM_KEYPOINTS, 2), -1.0, np.float32)
    for i, name in enumerate(COCO17_NAMES):
        out[KEYPOINT_NAMES.index(name)] = yx[i]
    ls, rs = yx[COCO17_NAMES.index("left_shoulder")], yx[COCO17_NAMES.index("right_shoulder")]
    if (ls >= 0).all() and (rs >= 0).all():
        out[KEYPOINT_NAMES.index("neck")] = (ls + rs) / 2.0
    return out


def _openpose(doc, path, min_confidence):
    people = doc.get("people")
    if not isinstance(people, list) or not people:
        raise ValueError(f"{path}: OpenPose JSON has no person in 'people'")
    person = people[0]
    field = "pose_keypoints_2d" if "pose_keypoints_2d" in person else "pose_keypoints"
    if field not in person:
        raise ValueError(f"{path}: people[0] has no 'pose_keypoints_2d'")
    t = _triples(person[field], path, f"people[0].{field}")
    if len(t) == 25:
        t = t[list(BODY25_TO_COCO18)]
    if len(t) != NUM_KEYPOINTS:
        raise ValueError(f"{path}: people[0].{field} has {len(t)} keypoints, expected 18 "
                         f"(OpenPose COCO-18: 54 numbers) or 25 (BODY_25: 75 numbers)")
    return _confident(t, min_confidence)


def _coco(doc, path, min_confidence):
    if isinstance(doc, dict) and "annotations" in doc:
        entries = [a for a in doc["annotations"] if isinstance(a, dict) and "keypoints" in a]
        if not entries:
            raise ValueError(f"{path}: COCO annotation file has no annotation with 'keypoints'")
        entries.sort(key=lambda a: -a.get("num_keypoints", 0))
        doc = entries[0]
    elif isinstance(doc, list):
        entries = [a for a in doc if isinstance(a, dict) and "keypoints" in a]
        if not entries:
            raise ValueError(f"{path}: JSON list holds no object with 'keypoints'")
        doc = max(entries, key=lambda a: a.get("score", 0))  # detector results: best person
    if not isinstance(doc, dict) or "keypoints" not in doc:
        raise ValueError(f"{path}: not a keypoint file: expected OpenPose JSON "
                         f"('people'[0].'pose_keypoints_2d') or COCO JSON ('keypoints')")
    t = _triples(doc["keypoints"], path, "keypoints")
    if len(t) == 17:
        return coco17_to_coco18(t, min_confidence)
    if len(t) == NUM_KEYPOINTS:  # already COCO-18
        return _confident(t, min_confidence)
    raise ValueError(f"{path}: 'keypoints' has {len(t)} points, expected 17 (COCO: 51 "
                     f"numbers) or 18 (COCO-18: 54 numbers)")


def _split_csv_spec(spec: str):
    """`FILE.csv#NAME` -> (FILE.csv, NAME); `FILE.csv` -> (FILE.csv, None)."""
    if "#" in spec and spec.split("#", 1)[0].lower().endswith(".csv"):
        path, name = spec.split("#", 1)
        return path, name
    return spec, None


def _patn_rows(path):
    """The PATN annotation CSV -> {name: (y, x) [18,2]}, with the data package's parser."""
    from pinet_tf.datasets.patn import read_annotations
    return {name: ann.keypoints for name, ann in read_annotations(path).items()}


def read_patn_row(spec: str) -> np.ndarray:
    """`annotation.csv#image_name.jpg` -> (y, x) [18,2] from the PATN CSV (already -1 for
    missing; no confidences)."""
    path, name = _split_csv_spec(spec)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: keypoint file not found")
    rows = _patn_rows(path)
    if name is None:
        if len(rows) != 1:
            raise ValueError(f"{path}: has {len(rows)} rows; pick one as {path}#IMAGE_NAME")
        name = next(iter(rows))
    if name not in rows:
        raise ValueError(f"{path}: no row for {name!r}")
    kp = np.asarray(rows[name], np.float32)
    if kp.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(f"{path}#{name}: has {kp.shape[0]} keypoints, expected 18")
    return kp


def read_keypoints(spec, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> np.ndarray:
    """A keypoint file (see the module docstring) -> (y, x) [18,2], -1 for missing.

    Raises ValueError when every point is missing: the model cannot place a person without
    any pose.
    """
    spec = os.fspath(spec)
    path, _ = _split_csv_spec(spec)
    if path.lower().endswith(".csv"):
        kp = read_patn_row(spec)
    else:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: keypoint file not found")
        try:
            with open(path) as f:
                doc = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e
        if isinstance(doc, dict) and "people" in doc:
            kp = _openpose(doc, path, min_confidence)
        else:
            kp = _coco(doc, path, min_confidence)
    if not (kp >= 0).all(axis=-1).any():
        raise ValueError(f"{spec}: all 18 keypoints are missing (none with confidence >= "
                         f"{min_confidence})")
    return kp


def check_keypoints_in_image(kp, height, width, path):
    """A point outside the photo is almost always a file for another photo / frame."""
    present = (kp >= 0).all(axis=-1)
    outside = present & ((kp[:, 0] > height - 0.5) | (kp[:, 1] > width - 0.5))
    if outside.any():
        names = [KEYPOINT_NAMES[i] for i in np.flatnonzero(outside)]
        raise ValueError(f"{path}: keypoints {names} lie outside the {height}x{width} image "
                         f"(keypoints are (y, x) pixels of that image)")


# -- parsing -----------------------------------------------------------------------------------
PARSING_LABEL_SETS = ("pinet", "cihp", "lip")


def read_parsing(path, labels: str = "pinet", size=None, image_path=None) -> np.ndarray:
    """A label PNG -> uint8 [h,w] in the 12 PINet classes.

    One-channel PNGs (L or palette mode) are read as label ids; an RGB PNG must use
    `pinet_tf.utils.drawing.PARSING_PALETTE` colours (what `colorize_parsing` writes). `labels`
    names the id set: "pinet" (the 12 classes), "cihp" or "lip" (20 classes, mapped).
    `size` (h, w): the image's size, which the parsing must match.
    """
    from pinet_tf.utils.drawing import PARSING_PALETTE

    path = os.fspath(path)
    if labels not in PARSING_LABEL_SETS:
        raise ValueError(f"parsing labels must be one of {PARSING_LABEL_SETS}, got {labels!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: parsing file not found")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{path}: cannot read parsing image ({e})") from e
    if mode in ("RGB", "RGBA"):
        rgb = arr[..., :3]
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
            arr = rgb[..., 0]  # grey saved as RGB
        else:
            codes = rgb.astype(np.int64) @ np.array([65536, 256, 1])
            palette = PARSING_PALETTE.astype(np.int64) @ np.array([65536, 256, 1])
            idx = np.searchsorted(np.sort(palette), codes)
            order = np.argsort(palette)
            idx = np.clip(idx, 0, len(palette) - 1)
            ok = np.sort(palette)[idx] == codes
            if not ok.all():
                raise ValueError(f"{path}: RGB parsing with colours outside the PINet palette; "
                                 f"give a one-channel label PNG (ids 0..{NUM_CLASSES - 1})")
            if labels != "pinet":
                raise ValueError(f"{path}: a colour parsing is in PINet classes; drop "
                                 f"--parsing-labels {labels}")
            arr = order[idx]
    elif arr.ndim != 2:
        raise ValueError(f"{path}: parsing must be a one-channel label image, got mode {mode}")
    arr = arr.astype(np.int64)
    if labels == "pinet":
        if arr.max(initial=0) >= NUM_CLASSES or arr.min(initial=0) < 0:
            raise ValueError(f"{path}: label {arr.max()} is not a PINet class (0..{NUM_CLASSES - 1}"
                             f": {', '.join(CLASS_NAMES)}); for CIHP/LIP parsing pass "
                             f"--parsing-labels cihp or lip")
        out = arr.astype(np.uint8)
    else:  # the data package's CIHP/LIP table (the same one `pinet-tf convert-parsing` uses)
        from pinet_tf.datasets.parsing_labels import convert_labels
        out = convert_labels(arr, labels, where=path)
    if size is not None and tuple(out.shape) != tuple(size):
        what = f"the image {image_path}" if image_path else "the image"
        raise ValueError(f"{path}: parsing is {out.shape[0]}x{out.shape[1]} but {what} is "
                         f"{size[0]}x{size[1]}; they must be the same size")
    return out
