"""Photos alone: the keypoints and parsing a verb needs but the user did not give.

`complete(person, ...)` fills a `pipeline.Person` read without a keypoint file (BlazePose's
estimate, `estimate.py`) and, when the model needs one, without a parsing (`rough_parsing`, from
the pose and BlazePose's person mask), saying each in one line on stderr.
"""

from __future__ import annotations

import sys

#: How to get a real parsing, for the rough-parsing line.
REAL_PARSING = ("for a real one run a human parser (e.g. SCHP, CIHP / LIP / ATR labels) and "
                "pass its label PNG with {flag} FILE --parsing-labels cihp|lip|atr "
                "(docs/guides/own-photo.md)")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def complete(person, *, need_parsing: bool, min_confidence: float = 0.0, which=None,
             choose_with: str = "--person", keypoints_flag: str = "--source-keypoints",
             parsing_flag: str = "--source-parsing"):
    """Fill `person.keypoints` (when None) and `person.parsing` (when None and `need_parsing`)
    in place; returns the person. `which`: the person to take when the photo shows several."""
    from pinet_tf.inference.pose import estimate as est_lib

    est = None
    if person.keypoints is None:
        est = est_lib.estimate(person.image_path, which, image=person.image,
                               choose_with=choose_with)
        person.keypoints = est.keypoints(min_confidence)
        _say(f"{est_lib.describe(est, choose_with)} (no {keypoints_flag} given; "
             f"`pinet-tf keypoints` writes them to a file you can check)")
    if need_parsing and person.parsing is None:
        from pinet_tf.inference.pose.rough_parsing import rough_parsing

        if est is None:  # keypoints were given: BlazePose only for the person mask
            try:
                est = est_lib.estimate(person.image_path, which, image=person.image,
                                       choose_with=choose_with)
            except (OSError, ValueError):  # no person found, or no model files: pose only
                est = None
        h, w = person.image.shape[:2]
        person.parsing = rough_parsing(person.keypoints, h, w,
                                       None if est is None else est.person_mask)
        source = "the pose and BlazePose's person mask" if est is not None else "the pose"
        _say(f"{person.image_path}: no {parsing_flag} given: using a ROUGH parsing made from "
             f"{source} (body parts, no clothing types); "
             + REAL_PARSING.format(flag=parsing_flag))
    return person
