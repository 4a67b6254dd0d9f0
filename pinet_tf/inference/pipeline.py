"""Pose transfer and texture transfer on one user's photo, in the photo's own frame.

Loads and checks every input first (so a bad file fails before anything runs or is written),
fits the photo into the model's frame (`frame.Fit`), runs a predictor (`predictor.py`) and maps
the result back to the photo's size. A one-stage model (`ModelConfig.stages == 1`) needs no
source parsing and predicts none: `TransferResult.parsing` is then None and the grid has no
parsing column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from pinet_tf.utils import drawing
from pinet_tf.config import CLASS_NAMES, NUM_CLASSES
from pinet_tf.inference.frame import Fit
from pinet_tf.datasets.patn import CROP_FROM
from pinet_tf.inference.readers import (DEFAULT_MIN_CONFIDENCE, check_keypoints_in_image,
                                        read_image, read_keypoints, read_parsing)


@dataclass
class Person:
    """One photo with its keypoints and parsing, in the photo's own pixel frame."""

    image: np.ndarray               # uint8 [h,w,3]
    keypoints: np.ndarray | None    # float32 [18,2] (y, x), -1 missing
    parsing: np.ndarray | None      # uint8 [h,w], 12 classes
    image_path: str = ""

    @property
    def size(self):
        return self.image.shape[:2]


def load_keypoints_for(spec, image_shape, image_path, min_confidence=DEFAULT_MIN_CONFIDENCE,
                       person=None, choose_with="--person"):
    """Read keypoints meant for a photo of `image_shape` and check they fit it (`person`: which
    person of a file holding several, chosen with the flag `choose_with`).

    The PATN CSV is in the authors' 256x176 crop (`datasets.patn`'s crop rule): for one of their
    uncropped 256x256 photos the x coordinates are shifted back by the crop's 40 pixels.
    """
    kp = read_keypoints(spec, min_confidence, person=person, choose_with=choose_with)
    spec_path = os.fspath(spec).split("#", 1)[0]
    if spec_path.lower().endswith(".csv") and tuple(image_shape[:2]) == (256, 256):
        present = (kp >= 0).all(axis=-1)
        kp = kp.copy()
        kp[present, 1] += CROP_FROM
    check_keypoints_in_image(kp, image_shape[0], image_shape[1], spec)
    return kp


def load_person(image_path, keypoints=None, parsing=None, *,
                min_confidence=DEFAULT_MIN_CONFIDENCE, parsing_labels="pinet", person=None,
                choose_with="--person") -> Person:
    """Read and check a photo, its keypoint file and its parsing PNG (each optional but the
    photo)."""
    image = read_image(image_path)
    kp = None if keypoints is None else load_keypoints_for(
        keypoints, image.shape, image_path, min_confidence, person, choose_with)
    labels = None if parsing is None else read_parsing(
        parsing, parsing_labels, size=image.shape[:2], image_path=image_path)
    return Person(image, kp, labels, os.fspath(image_path))


def parse_regions(text) -> list:
    """'upper-clothes,pants' -> class ids [2, 4] (names as in `CLASS_NAMES`)."""
    names = [t.strip().lower().replace("_", "-") for t in str(text).split(",") if t.strip()]
    if not names:
        raise ValueError(f"--regions is empty; choose from {', '.join(CLASS_NAMES)}")
    ids = []
    for name in names:
        if name not in CLASS_NAMES:
            raise ValueError(f"unknown region {name!r}; choose from {', '.join(CLASS_NAMES)}")
        ids.append(CLASS_NAMES.index(name))
    return sorted(set(ids))


#: A crop that leaves fewer keypoints than this (of those present) is refused.
MIN_KEPT_BY_CROP = 6


def _require_pose(kp, what, fit: Fit | None = None, photo_kp=None):
    """The pose in the model's frame must keep a point; with `fit` and the photo's own
    keypoints, a crop says which points it cut off, and is refused when too few remain."""
    if not (kp >= 0).all(axis=-1).any():
        raise ValueError(f"{what}: no keypoint lies inside the model's frame after fitting "
                         f"(try --fit pad)")
    if fit is None or photo_kp is None:
        return
    cut = fit.cut_keypoints(photo_kp)
    if not cut:
        return
    import sys

    from pinet_tf.config import KEYPOINT_NAMES

    names = ", ".join(KEYPOINT_NAMES[i] for i in cut)
    kept = int((np.asarray(kp) >= 0).all(axis=-1).sum())
    if kept < MIN_KEPT_BY_CROP:
        raise ValueError(f"{what}: --fit crop cuts off {names}, leaving {kept} keypoints (fewer "
                         f"than {MIN_KEPT_BY_CROP}); use --fit pad")
    print(f"{what}: --fit crop cut off {names} ({kept} keypoints kept)", file=sys.stderr,
          flush=True)


@dataclass
class TransferResult:
    image: np.ndarray          # uint8 [h,w,3], the source photo's frame
    parsing: np.ndarray | None  # uint8 [h,w]; None for a one-stage model
    keypoints: np.ndarray      # target keypoints in the source photo's frame
    model: dict                # the same in the model's frame (+ inputs), for pictures
    fit: Fit


def transfer_many(predictor, jobs) -> list:
    """Pose transfer for several (source Person, target keypoints in the model's frame, Fit)
    in one predictor call (a batch). Returns one `TransferResult` per job."""
    inputs = []
    for source, target_model, fit in jobs:
        src_kp = fit.keypoints(source.keypoints)
        _require_pose(src_kp, source.image_path, fit, source.keypoints)
        _require_pose(target_model, "target keypoints")
        inputs.append((fit.image(source.image), None if source.parsing is None
                       else fit.parsing(source.parsing), src_kp,
                       np.asarray(target_model, np.float32)))
    images, parsings = predictor.transfer(*(None if any(a is None for a in x) else np.stack(x)
                                            for x in zip(*inputs)))
    if parsings is None:  # a one-stage model predicts no parsing
        parsings = [None] * len(inputs)
    results = []
    for (source, target_model, fit), (src_img, src_par, src_kp, tgt_kp), image_m, parsing_m \
            in zip(jobs, inputs, images, parsings):
        results.append(TransferResult(
            image=fit.image_back(image_m, source.image),
            parsing=None if parsing_m is None else fit.parsing_back(parsing_m, source.parsing),
            keypoints=fit.keypoints_back(tgt_kp),
            model=dict(source_image=src_img, source_parsing=src_par, source_keypoints=src_kp,
                       target_keypoints=tgt_kp, image=image_m, parsing=parsing_m),
            fit=fit))
    return results


def transfer(predictor, source: Person, target_keypoints_model, fit: Fit) -> TransferResult:
    """Source person in the target pose, in the source photo's frame.
    `target_keypoints_model`: (y, x) [18,2] already in the model's frame (`Fit.keypoints` of
    the frame they were given in)."""
    return transfer_many(predictor, [(source, target_keypoints_model, fit)])[0]


def texture(predictor, source: Person, condition: Person, region_ids, fit_mode="pad"):
    """Paper Eq. 11 in the source photo's frame: the chosen regions of the source parsing are
    redrawn with the condition person's clothes; every other pixel is the source photo's own
    (bit-identical: the final composite is done here, at the photo's resolution).

    Returns (image uint8 [h,w,3], dict of model-frame arrays for pictures)."""
    h, w = predictor.image_size
    present = set(np.unique(source.parsing).tolist())
    if not present.intersection(region_ids):
        names = ", ".join(CLASS_NAMES[i] for i in region_ids)
        raise ValueError(f"regions {names} do not occur in the source parsing; nothing "
                         f"would change")
    fit_s = Fit.make(*source.size, h, w, fit_mode)
    fit_c = Fit.make(*condition.size, h, w, fit_mode)
    src_img, src_par = fit_s.image(source.image), fit_s.parsing(source.parsing)
    src_kp = fit_s.keypoints(source.keypoints)
    _require_pose(src_kp, source.image_path, fit_s, source.keypoints)
    cond_img, cond_par = fit_c.image(condition.image), fit_c.parsing(condition.parsing)
    regions = np.zeros((1, NUM_CLASSES), np.float32)
    regions[0, list(region_ids)] = 1.0
    out_m = predictor.texture(src_img[None], src_par[None], src_kp[None], cond_img[None],
                              cond_par[None], regions)[0]
    rendered = fit_s.image_back(out_m, source.image)
    mask = np.isin(source.parsing, list(region_ids))[..., None]
    image = np.where(mask, rendered, source.image).astype(np.uint8)
    model = dict(source_image=src_img, source_parsing=src_par, source_keypoints=src_kp,
                 condition_image=cond_img, condition_parsing=cond_par, image=out_m,
                 region_mask=np.isin(src_par, list(region_ids)))
    return image, model


# -- pictures ----------------------------------------------------------------------------------
def _zoom(img, factor):
    return img if factor == 1 else np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def transfer_grid(result: TransferResult, ground_truth=None, min_height=256) -> np.ndarray:
    """source | source skeleton | target skeleton | predicted parsing + legend | result
    (| ground truth), all in the model's frame (no parsing nor legend for a one-stage model)."""
    m = result.model
    h, w = m["image"].shape[:2]
    factor = max(1, -(-min_height // h))
    parsed = m["parsing"] is not None
    cells = [m["source_image"],
             drawing.draw_skeleton(m["source_keypoints"], h, w),
             drawing.draw_skeleton(m["target_keypoints"], h, w)]
    cells += [drawing.colorize_parsing(m["parsing"])] if parsed else []
    cells.append(m["image"])
    titles = ["source", "source pose", "target pose"] + (["predicted parsing"] if parsed
                                                         else []) + ["result"]
    if ground_truth is not None:
        cells.append(ground_truth)
        titles.append("ground truth")
    cells = [_zoom(c, factor) for c in cells]
    if parsed:
        cells.insert(4, drawing.parsing_legend(cells[0].shape[0]))
        titles.insert(4, "")
    return drawing.image_grid([cells], pad=4, titles=titles)


def texture_grid(model: dict, min_height=256) -> np.ndarray:
    """source | condition | condition parsing | source regions | result (model's frame)."""
    h, w = model["image"].shape[:2]
    factor = max(1, -(-min_height // h))
    regions = np.where(model["region_mask"][..., None],
                       drawing.colorize_parsing(model["source_parsing"]),
                       (model["source_image"] // 3).astype(np.uint8))
    cells = [model["source_image"], model["condition_image"],
             drawing.colorize_parsing(model["condition_parsing"]), regions, model["image"]]
    cells = [_zoom(c, factor) for c in cells]
    cells.insert(3, drawing.parsing_legend(cells[0].shape[0]))
    return drawing.image_grid([cells], pad=4, titles=[
        "source", "condition", "condition parsing", "", "replaced regions", "result"])
