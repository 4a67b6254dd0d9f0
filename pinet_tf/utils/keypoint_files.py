"""Readers of keypoint files: the authors' annotation CSV, OpenPose / COCO JSON, [y, x] lists.

One reader for the data reader (`datasets.patn`), the inference verbs and the serving `client`
(`--source-keypoints` / `--target-keypoints` accept the same files everywhere); files, text and
JSON are read with `pinet_tf.utils.readers`, so errors name the file (and line).

`read_keypoints`: chosen from the file's name and content, all to (y, x) [18, 2] in
COCO-18 order with -1 for a missing point:

* OpenPose JSON: ``people[N].pose_keypoints_2d`` as x, y, confidence triples, COCO-18 (54
  numbers) or BODY_25 (75 numbers; its COCO-18 subset is used). Several people: person 0 (or
  `person`), with a warning naming the file.
* COCO-17 JSON: ``{"keypoints": [51 numbers]}``, a COCO results list (best score) or a COCO
  annotation file (most keypoints); converted to COCO-18 with the neck at the midpoint of the
  shoulders when both are confident.
* The compact form: a JSON list of 18 [y, x] pairs, ``{"keypoints": [[y, x], ...]}``, or a
  ``.npy`` array [18, 2] (what `pinet-tf client` read before; a negative coordinate = missing).
* The authors' annotation CSV (``name:keypoints_y:keypoints_x``): ``FILE.csv#IMAGE_NAME`` picks a
  row; a CSV with one row needs no name.

Every number must be finite: NaN or inf (JSON's ``NaN``/``Infinity``, ``1e999``) is an error naming
the file and line, never a silently missing point.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from pinet_tf.config import KEYPOINT_NAMES, NUM_KEYPOINTS
from pinet_tf.utils.readers import (NonFinite, check_file, loads_finite, os_error, read_json,
                                    read_text)

log = logging.getLogger("pinet_tf.readers")

DEFAULT_MIN_CONFIDENCE = 0.1
#: The formats `read_keypoints` accepts, for the help of every flag that takes a keypoint file.
FORMATS_HELP = ("OpenPose JSON (COCO-18 or BODY_25), COCO-17 JSON, a JSON list (or .npy) of 18 "
                "[y, x] pairs (-1 = missing), or the authors' annotation CSV as "
                "FILE.csv#IMAGE_NAME")
#: COCO-17 order (the COCO keypoint task / most detectors).
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: OpenPose BODY_25 indices of the COCO-18 points (BODY_25 = COCO-18 + mid-hip and feet).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
#: The authors' annotation CSV's header row.
ANNOTATION_HEADER = "name:keypoints_y:keypoints_x"


# -- the authors' annotation CSV -------------------------------------------------------------------
@dataclass(frozen=True)
class Annotation:
    keypoints: np.ndarray  # float32 [18, 2] (y, x), -1 missing
    file: str
    line: int


def _annotation_row(line: str):
    parts = line.split(":")
    if len(parts) != 3:
        raise ValueError(f"expected 3 ':'-separated fields, got {len(parts)}")
    name = parts[0].strip()
    ys, xs = loads_finite(parts[1]), loads_finite(parts[2])
    if not (isinstance(ys, list) and isinstance(xs, list)):
        raise ValueError("keypoints must be bracketed lists")
    if len(ys) != NUM_KEYPOINTS or len(xs) != NUM_KEYPOINTS:
        raise ValueError(f"expected {NUM_KEYPOINTS} y and {NUM_KEYPOINTS} x values, "
                         f"got {len(ys)} and {len(xs)}")
    if not all(type(v) in (int, float) for v in ys + xs):
        raise ValueError("keypoints must be numbers")
    if not name:
        raise ValueError("empty name")
    return name, np.stack([_coordinates(ys, "y"), _coordinates(xs, "x")], axis=1)


#: Largest keypoint coordinate accepted (pixels): beyond it a number is not a position (and
#: would overflow float32 to inf).
MAX_COORDINATE = 1e6


def _coordinates(values, what="keypoint") -> np.ndarray:
    """Numbers -> float32, each finite and within +-MAX_COORDINATE (else one ValueError naming
    the first bad value, never an OverflowError or an inf)."""
    for v in values:
        if type(v) in (int, float) and not -MAX_COORDINATE <= v <= MAX_COORDINATE:
            shown = f"{v:.4g}" if isinstance(v, float) else f"an integer of {len(str(v))} digits"
            raise ValueError(f"{what} value {shown} is out of range (coordinates are pixels, "
                             f"at most {MAX_COORDINATE:.0e})")
    return np.asarray(values, np.float32)


def read_annotations(path) -> dict:
    """The authors' annotation CSV -> {name: Annotation}. A malformed row, a non-finite number or
    one name annotated twice with different keypoints raises ValueError naming file and line(s)."""
    path = os.fspath(path)
    lines = read_text(path, "annotation CSV").split("\n")
    header = lines[0].strip() if lines and lines[0].strip() else None
    if header is None or header.replace(" ", "") != ANNOTATION_HEADER:
        got = header if header is not None else "an empty first line"
        raise ValueError(f"{path}:1: expected header {ANNOTATION_HEADER!r}, got {got!r}")
    out = {}
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            name, kp = _annotation_row(line)
        except NonFinite as e:
            raise ValueError(f"{path}:{number}: {e.token} {e.reason} (keypoints must be "
                             f"finite, -1 for missing): {line[:120]!r}") from None
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}:{number}: malformed annotation row ({e}): "
                             f"{line[:120]!r}") from None
        if name in out:
            first = out[name]
            if not np.array_equal(first.keypoints, kp):
                raise ValueError(f"{path}:{number}: {name} is annotated twice with different "
                                 f"keypoints (lines {first.line} and {number}); keep one row")
            continue
        out[name] = Annotation(kp, path, number)
    return out


def split_csv_spec(spec: str):
    """`FILE.csv#NAME` -> (FILE.csv, NAME); anything else -> (spec, None)."""
    if "#" in spec and spec.split("#", 1)[0].lower().endswith(".csv"):
        path, name = spec.split("#", 1)
        return path, name
    return spec, None


def read_annotation_row(spec: str) -> np.ndarray:
    """`annotation.csv#image_name.jpg` -> (y, x) [18, 2] (-1 missing)."""
    path, name = split_csv_spec(spec)
    rows = read_annotations(path)
    if name is None:
        if len(rows) != 1:
            raise ValueError(f"{path}: has {len(rows)} rows; pick one as {path}#IMAGE_NAME")
        name = next(iter(rows))
    if name not in rows:
        raise ValueError(f"{path}: no row for {name!r}")
    return rows[name].keypoints.copy()


# -- keypoint files --------------------------------------------------------------------------------
def _confident(triples: np.ndarray, min_confidence: float) -> np.ndarray:
    """x, y, c triples [K, 3] -> (y, x) [K, 2] with -1 where c is 0 or below the threshold."""
    c = triples[:, 2]
    keep = (c > 0) & (c >= min_confidence) & (triples[:, 0] >= 0) & (triples[:, 1] >= 0)
    out = np.stack([triples[:, 1], triples[:, 0]], axis=-1).astype(np.float32)
    out[~keep] = -1.0
    return out


def _triples(values, path, field) -> np.ndarray:
    if not isinstance(values, list) or not all(type(v) in (int, float) for v in values):
        raise ValueError(f"{path}: {field} must be a flat list of numbers")
    try:
        arr = _coordinates(values).astype(np.float64)
    except ValueError as e:
        raise ValueError(f"{path}: {field}: {e}") from None
    if arr.size % 3:
        raise ValueError(f"{path}: {field} must hold x, y, confidence triples; got "
                         f"{arr.size} numbers")
    return arr.reshape(-1, 3)


def coco17_to_coco18(triples: np.ndarray, min_confidence: float) -> np.ndarray:
    """COCO-17 x, y, c triples [17, 3] -> COCO-18 (y, x) [18, 2]; the neck (absent from COCO) is
    the midpoint of the two shoulders when both are confident, else missing."""
    yx = _confident(triples, min_confidence)
    out = np.full((NUM_KEYPOINTS, 2), -1.0, np.float32)
    for i, name in enumerate(COCO17_NAMES):
        out[KEYPOINT_NAMES.index(name)] = yx[i]
    ls, rs = yx[COCO17_NAMES.index("left_shoulder")], yx[COCO17_NAMES.index("right_shoulder")]
    if (ls >= 0).all() and (rs >= 0).all():
        out[KEYPOINT_NAMES.index("neck")] = (ls + rs) / 2.0
    return out


def _pick(entries, path, person, default, how, choose_with):
    """One of several people: `person` if given, else `default` (with a warning)."""
    if person is not None:
        if not 0 <= person < len(entries):
            raise ValueError(f"{path}: {choose_with} {person} but the file holds "
                             f"{len(entries)} {'person' if len(entries) == 1 else 'people'} "
                             f"(0..{len(entries) - 1})")
        return person
    if len(entries) > 1:
        log.warning("%s: %d people in the file; using person %d (%s); choose another with "
                    "%s N (0..%d)", path, len(entries), default, how, choose_with,
                    len(entries) - 1)
    return default


def _openpose(doc, path, min_confidence, person, choose_with):
    people = doc.get("people")
    if not isinstance(people, list) or not people:
        raise ValueError(f"{path}: OpenPose JSON has no person in 'people' (expected a list of "
                         f"people, got {type(people).__name__})")
    i = _pick(people, path, person, 0, "the first", choose_with)
    entry = people[i]
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: people[{i}] must be an object with 'pose_keypoints_2d', got "
                         f"{type(entry).__name__}")
    field = "pose_keypoints_2d" if "pose_keypoints_2d" in entry else "pose_keypoints"
    if field not in entry:
        raise ValueError(f"{path}: people[{i}] has no 'pose_keypoints_2d'")
    t = _triples(entry[field], path, f"people[{i}].{field}")
    if len(t) == 25:
        t = t[list(BODY25_TO_COCO18)]
    if len(t) != NUM_KEYPOINTS:
        raise ValueError(f"{path}: people[{i}].{field} has {len(t)} keypoints, expected 18 "
                         f"(OpenPose COCO-18: 54 numbers) or 25 (BODY_25: 75 numbers)")
    return _confident(t, min_confidence)


def _is_pairs(values) -> bool:
    return isinstance(values, list) and bool(values) and all(isinstance(v, list) for v in values)


def _compact(values, path) -> np.ndarray:
    """18 [y, x] pairs (-1, or any negative coordinate, = missing)."""
    try:
        kp = np.asarray(values, np.float64)
    except (TypeError, ValueError, OverflowError):
        kp = np.zeros(0)
    if kp.shape != (NUM_KEYPOINTS, 2) or kp.dtype.kind not in "fiu":
        raise ValueError(f"{path}: keypoints have shape {kp.shape}, expected (18, 2) (y, x) "
                         f"pairs in COCO-18 order")
    bad = ~np.isfinite(kp).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: keypoint {k} ({KEYPOINT_NAMES[k]}) is {kp[k].tolist()}: not "
                         f"finite numbers")
    big = np.abs(kp) > MAX_COORDINATE
    if big.any():
        k = int(np.flatnonzero(big.any(axis=1))[0])
        raise ValueError(f"{path}: keypoint {k} ({KEYPOINT_NAMES[k]}) is {kp[k].tolist()}: out "
                         f"of range (coordinates are pixels, at most {MAX_COORDINATE:.0e})")
    kp = kp.astype(np.float32)
    kp[(kp < 0).any(axis=1)] = -1.0
    return kp


def _coco(doc, path, min_confidence, person, choose_with):
    if isinstance(doc, dict) and "annotations" in doc:
        entries = doc["annotations"] if isinstance(doc["annotations"], list) else []
        entries = [a for a in entries if isinstance(a, dict) and "keypoints" in a]
        if not entries:
            raise ValueError(f"{path}: COCO annotation file has no annotation with 'keypoints'")
        counts = [a.get("num_keypoints", 0) for a in entries]
        best = max(range(len(entries)), key=lambda i: counts[i] if isinstance(
            counts[i], (int, float)) else 0)
        doc = entries[_pick(entries, path, person, best, "the one with most keypoints",
                            choose_with)]
    elif isinstance(doc, list):
        entries = [a for a in doc if isinstance(a, dict) and "keypoints" in a]
        if not entries:
            raise ValueError(f"{path}: JSON list holds neither 18 [y, x] pairs nor an object "
                             f"with 'keypoints'")
        scores = [a.get("score", 0) for a in entries]
        best = max(range(len(entries)), key=lambda i: scores[i] if isinstance(
            scores[i], (int, float)) else 0)
        doc = entries[_pick(entries, path, person, best, "the best score", choose_with)]
    if not isinstance(doc, dict) or "keypoints" not in doc:
        raise ValueError(f"{path}: not a keypoint file: expected OpenPose JSON "
                         f"('people'[0].'pose_keypoints_2d'), COCO JSON ('keypoints') or 18 "
                         f"[y, x] pairs")
    if _is_pairs(doc["keypoints"]):
        return _compact(doc["keypoints"], path)
    t = _triples(doc["keypoints"], path, "keypoints")
    if len(t) == 17:
        return coco17_to_coco18(t, min_confidence)
    if len(t) == NUM_KEYPOINTS:  # already COCO-18
        return _confident(t, min_confidence)
    raise ValueError(f"{path}: 'keypoints' has {len(t)} points, expected 17 (COCO: 51 "
                     f"numbers) or 18 (COCO-18: 54 numbers)")


def _npy_header(path):
    """(shape, dtype) from a .npy header, read before any data (a header may declare a shape
    of terabytes)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _, dtype = read(f)
    return shape, dtype


def _read_npy(path) -> np.ndarray:
    path = check_file(path, "keypoint file")
    try:
        shape, dtype = _npy_header(path)
        if tuple(shape) == (NUM_KEYPOINTS, 2) and dtype.kind in "fiu":
            arr = np.load(path, allow_pickle=False)
    except OSError as e:
        if e.errno is not None:
            raise os_error(path, e, "keypoint file") from None
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    except (ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    if dtype.kind not in "fiu":
        raise ValueError(f"{path}: not a readable .npy array (its header declares dtype "
                         f"{str(dtype)[:40]}; expected numbers)")
    if tuple(shape) != (NUM_KEYPOINTS, 2):
        shown = str(tuple(shape)) if len(str(tuple(shape))) < 60 else f"of {len(shape)} axes"
        raise ValueError(f"{path}: keypoints have shape {shown}, expected (18, 2) (y, x) pairs "
                         f"in COCO-18 order (declared by the .npy header; no data was read)")
    return _compact(arr, path)


def read_keypoints(spec, min_confidence: float = DEFAULT_MIN_CONFIDENCE, person=None,
                   choose_with: str = "--person") -> np.ndarray:
    """A keypoint file (module docstring) -> (y, x) float32 [18, 2], -1 for missing.

    `person`: which person of a file holding several (OpenPose people, COCO entries); by default
    the first (OpenPose) or best one, with a warning that names `choose_with` (the flag).
    Raises ValueError when every point is missing: the model cannot place a person without any
    pose.
    """
    spec = os.fspath(spec)
    path, _ = split_csv_spec(spec)
    if path.lower().endswith(".csv"):
        check_file(path, "keypoint file")
        kp = read_annotation_row(spec)
    elif path.lower().endswith(".npy"):
        kp = _read_npy(path)
    else:
        doc = read_json(path, "keypoint file")
        if isinstance(doc, dict) and "people" in doc:
            kp = _openpose(doc, path, min_confidence, person, choose_with)
        elif _is_pairs(doc):
            kp = _compact(doc, path)
        else:
            kp = _coco(doc, path, min_confidence, person, choose_with)
    if not (kp >= 0).all(axis=-1).any():
        raise ValueError(f"{spec}: all 18 keypoints are missing (none with confidence >= "
                         f"{min_confidence})")
    return kp
