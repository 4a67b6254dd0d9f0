"""BlazePose (MediaPipe's pose detector and `full` landmark model) on one photo, with numpy.

Only MediaPipe's two model FILES are used (`pinet_tf.utils.weights` keys `blazepose_detector`,
`blazepose_landmarks_full`), run by the TFLite interpreter; the steps of MediaPipe's pose graphs
are re-done here, with their published parameters:

1. Detector (224x224 RGB in [-1, 1], the photo letterboxed with zero padding): 2254 SSD anchors
   from 5 layers with strides 8, 16, 32, 32, 32 (two anchors per layer and cell, fixed size 1,
   offset 0.5); each raw row is 12 numbers, box centre x, y, width, height then 4 keypoints
   (x, y), all in input pixels relative to the anchor centre; scores are sigmoid(logit clipped to
   +-100 in MediaPipe, +-80 here to stay in float32), kept from 0.5; overlapping boxes
   (IoU > 0.3) are merged by score-weighted averaging.
2. Region of interest: the detector's keypoint 0 is the hip centre, keypoint 1 a point whose
   distance from it is the radius of the circle around the whole body and whose direction gives
   the body's tilt. The crop is a square of side 2 x radius x 1.25 centred on the hips, rotated so
   that keypoint 1 points up (rotation = 90 deg - atan2(-(y1 - y0), x1 - x0)).
3. Landmark model (the 256x256 crop in [0, 1]): 39 x (x, y, z, visibility logit, presence logit)
   in crop pixels (33 body landmarks + 6 auxiliary), a pose score in [0, 1], and a 256x256
   person-segmentation logit map; landmarks and the mask are mapped back through the crop's
   rotation and scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2  # aspect ratio 1 plus the interpolated scale, fixed anchor size
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.25
MIN_POSE_SCORE = 0.5
NUM_LANDMARKS = 33


def load_interpreter(path, num_threads: int = 2):
    """A TFLite interpreter for `path`: `ai_edge_litert` when installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter, x: np.ndarray) -> list:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None].astype(np.float32))
    interpreter.invoke()
    outs = sorted(interpreter.get_output_details(), key=lambda d: d["name"])
    return [interpreter.get_tensor(d["index"])[0] for d in outs]


def ssd_anchors() -> np.ndarray:
    """[2254, 2] anchor centres (x, y), in [0, 1] of the detector input; row-major per grid,
    consecutive layers with the same stride share one grid."""
    centres = []
    i = 0
    while i < len(ANCHOR_STRIDES):
        stride, n = ANCHOR_STRIDES[i], 0
        while i < len(ANCHOR_STRIDES) and ANCHOR_STRIDES[i] == stride:
            n += ANCHORS_PER_LAYER
            i += 1
        cells = math.ceil(DETECTOR_SIZE / stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells,
                             indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], -1)
        centres.append(np.repeat(grid, n, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass
class Detection:
    """One person found by the detector, in photo pixels."""

    score: float
    box: np.ndarray        # x0, y0, x1, y1
    keypoints: np.ndarray  # [4, 2] (x, y)


def _iou(box, boxes) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_nms(scores, boxes, keypoints, iou: float = NMS_IOU) -> list:
    """MediaPipe's WEIGHTED non-maximum suppression: each cluster of boxes overlapping the best
    remaining one by more than `iou` becomes one detection, its boxes and keypoints averaged with
    the scores as weights, its score the best one's. Returns (score, box, keypoints) tuples."""
    order = np.argsort(-scores)
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        members = left & (_iou(boxes[i], boxes) > iou)
        members[i] = True
        w = scores[members][:, None]
        out.append((float(scores[i]), (boxes[members] * w).sum(0) / w.sum(),
                    (keypoints[members] * w[:, :, None]).sum(0) / w.sum()))
        left &= ~members
    return out


def letterbox(image: np.ndarray, size: int):
    """The photo scaled into a size x size square, centred, zero-padded; returns the float
    [size, size, 3] RGB in [0, 255], the scale and the (x, y) padding."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = np.asarray(Image.fromarray(image).resize((sw, sh), Image.BILINEAR), np.float32)
    out = np.zeros((size, size, 3), np.float32)
    px, py = (size - sw) // 2, (size - sh) // 2
    out[py:py + sh, px:px + sw] = scaled
    return out, (sw / w, sh / h), (px, py)


def detect(interpreter, image: np.ndarray, anchors=None) -> list:
    """Every person in the photo (uint8 [h, w, 3]) as `Detection`s, best score first."""
    anchors = ssd_anchors() if anchors is None else anchors
    square, (sx, sy), (px, py) = letterbox(image, DETECTOR_SIZE)
    raw, logits = _run(interpreter, square / 127.5 - 1.0)
    scores = _sigmoid(logits[:, 0])
    keep = scores >= MIN_DETECTION_SCORE
    if not keep.any():
        return []
    raw, scores, anc = raw[keep] / DETECTOR_SIZE, scores[keep], anchors[keep]
    centre = raw[:, 0:2] + anc
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], -1)
    kps = raw[:, 4:12].reshape(-1, 4, 2) + anc[:, None]
    found = []
    for score, box, kp in weighted_nms(scores, boxes, kps):
        # detector input [0, 1] -> photo pixels (undo the letterbox)
        to_photo = lambda p: (p * DETECTOR_SIZE - (px, py)) / (sx, sy)  # noqa: E731
        found.append(Detection(score, to_photo(box.reshape(2, 2)).ravel(), to_photo(kp)))
    return found


@dataclass
class Roi:
    """A rotated square around a person, in photo pixels."""

    cx: float
    cy: float
    size: float
    rotation: float  # radians; the crop's "up" is the body's head direction

    @classmethod
    def from_detection(cls, det: Detection) -> "Roi":
        (x0, y0), (x1, y1) = det.keypoints[0], det.keypoints[1]
        rotation = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
        radius = math.hypot(x1 - x0, y1 - y0)
        return cls(float(x0), float(y0), 2 * radius * ROI_SCALE, rotation)

    def crop_to_photo(self, u, v):
        """Crop coordinates in [0, 1] (x right, y down) -> photo pixels (x, y)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        u, v = np.asarray(u) - 0.5, np.asarray(v) - 0.5
        return (self.cx + self.size * (c * u - s * v), self.cy + self.size * (s * u + c * v))

    def affine(self, out_size: int) -> tuple:
        """PIL AFFINE data: crop pixel (x, y) of an out_size crop -> photo pixel."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = self.size / out_size
        x0, y0 = self.crop_to_photo(0.0, 0.0)
        return (c * k, -s * k, float(x0), s * k, c * k, float(y0))


@dataclass
class Pose:
    """BlazePose's 33 landmarks of one person in photo pixels, and its person mask."""

    xy: np.ndarray          # float32 [33, 2] (x, y)
    visibility: np.ndarray  # float32 [33] in [0, 1]
    presence: np.ndarray    # float32 [33] in [0, 1]
    score: float            # the landmark model's pose score
    crop_mask: np.ndarray   # float32 [256, 256] person probability in the crop
    roi: Roi
    detection: Detection

    def mask(self, height: int, width: int, photo_height: int, photo_width: int) -> np.ndarray:
        """The person probability as float32 [height, width] over the whole photo (of
        photo_height x photo_width pixels, scaled to that size); 0 outside the crop."""
        sy, sx = height / photo_height, width / photo_width
        k = self.crop_mask.shape[0] / self.roi.size
        c, s = math.cos(self.roi.rotation), math.sin(self.roi.rotation)
        # output pixel (x, y) -> photo (x / sx, y / sy) -> crop (inverse of crop_to_photo)
        a, b, d, e = c * k / sx, s * k / sy, -s * k / sx, c * k / sy
        n = self.crop_mask.shape[0]
        data = (a, b, n / 2 - c * k * self.roi.cx - s * k * self.roi.cy,
                d, e, n / 2 + s * k * self.roi.cx - c * k * self.roi.cy)
        prob = Image.fromarray(self.crop_mask, "F")
        return np.asarray(prob.transform((width, height), Image.AFFINE, data, Image.BILINEAR),
                          np.float32)


    def area(self, photo_height: int, photo_width: int) -> float:
        """The photo pixels the person covers: their mask summed over the crop pixels that fall
        inside the photo, times a crop pixel's area. Not the detector's box: it frames the upper
        body and comes out nearly the same for a person near the camera and one behind them."""
        n = self.crop_mask.shape[0]
        centres = (np.arange(n) + 0.5) / n
        x, y = self.roi.crop_to_photo(centres[None, :], centres[:, None])
        inside = (x >= 0) & (x < photo_width) & (y >= 0) & (y < photo_height)
        return float(self.crop_mask[inside].sum()) * (self.roi.size / n) ** 2


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def landmarks(interpreter, image: np.ndarray, det: Detection) -> Pose:
    """Run the landmark model on the crop around `det` and map its outputs to the photo."""
    roi = Roi.from_detection(det)
    n = LANDMARK_SIZE
    crop = Image.fromarray(image).transform((n, n), Image.AFFINE, roi.affine(n), Image.BILINEAR)
    raw, score, mask_logits, _heatmap, _world = _run(
        interpreter, np.asarray(crop, np.float32) / 255.0)
    lm = raw.reshape(-1, 5)[:NUM_LANDMARKS]
    x, y = roi.crop_to_photo(lm[:, 0] / n, lm[:, 1] / n)
    return Pose(np.stack([x, y], -1).astype(np.float32), _sigmoid(lm[:, 3]).astype(np.float32),
                _sigmoid(lm[:, 4]).astype(np.float32), float(np.ravel(score)[0]),
                _sigmoid(mask_logits[..., 0]).astype(np.float32), roi, det)


class BlazePose:
    """The two models, loaded once; `__call__(image)` -> the `Pose` of every person found,
    largest first (the photo area their person mask covers)."""

    def __init__(self, detector_path=None, landmark_path=None, allow_download=None):
        from pinet_tf.utils.weights import locate

        self.detector = load_interpreter(locate("blazepose_detector", detector_path,
                                                allow_download=allow_download))
        self.landmarker = load_interpreter(locate("blazepose_landmarks_full", landmark_path,
                                                  allow_download=allow_download))
        self.anchors = ssd_anchors()

    def __call__(self, image: np.ndarray) -> list:
        h, w = image.shape[:2]
        poses = [landmarks(self.landmarker, image, d)
                 for d in detect(self.detector, image, self.anchors)]
        return sorted((p for p in poses if p.score >= MIN_POSE_SCORE), key=lambda p: -p.area(h, w))
