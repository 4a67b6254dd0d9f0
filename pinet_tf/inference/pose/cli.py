"""`pinet-tf keypoints`: the 18 body keypoints of the person in each photo, as OpenPose JSON.

    pinet-tf keypoints photo.png --out out/photo_keypoints.json --draw
    pinet-tf keypoints a.jpg b.jpg --out out/keypoints/      # NAME_keypoints.json per photo

BlazePose's model files are found like every weights file (`pinet_tf.utils.weights`). Every
photo is read and checked before the models load; with several photos, a photo that fails (no
person, unreadable, tiny, huge) gets one line and nothing is written for it, the others are
written and the exit status is 1.
"""

from __future__ import annotations

import os
import sys


def outputs(photos, out) -> list:
    """The JSON path of each photo: `out` itself for one photo and a .json `out`, else
    OUT/NAME_keypoints.json (OpenPose's naming)."""
    if out.lower().endswith(".json"):
        if len(photos) > 1:
            raise ValueError(f"--out {out} names one file but {len(photos)} photos were given; "
                             f"give a folder")
        return [out]
    names = [os.path.splitext(os.path.basename(p))[0] + "_keypoints.json" for p in photos]
    if len(set(names)) < len(names):
        raise ValueError("two photos have the same name; their keypoint files would collide in "
                         f"{out}")
    return [os.path.join(out, n) for n in names]


def drawing_path(json_path: str) -> str:
    return os.path.splitext(json_path)[0] + ".png"


def keypoints_command(args) -> int:
    from pinet_tf.inference.pose import estimate as est_lib
    from pinet_tf.inference.pose.coco18 import openpose_document
    from pinet_tf.utils import drawing
    from pinet_tf.utils.atomic import write_json
    from pinet_tf.utils.readers import check_writable

    jsons = outputs(args.photos, args.out)
    writes = jsons + ([drawing_path(j) for j in jsons] if args.draw else [])
    photos = {os.path.realpath(p) for p in args.photos}
    for w in writes:
        if os.path.realpath(w) in photos:
            raise ValueError(f"{w} is one of the photos; choose another --out")
    if not args.out.lower().endswith(".json"):
        check_writable(args.out, "keypoints folder", folder=True)
    for w in writes:
        check_writable(w, "output")
    images, failed = {}, []
    for p in args.photos:  # check every photo before loading the models
        try:
            images[p] = est_lib.read_photo(p)
        except (OSError, ValueError) as e:
            if len(args.photos) == 1:
                raise
            failed.append(str(e))
            print(f"pinet-tf keypoints: {e}", file=sys.stderr)
    model = est_lib.estimator(allow_download=False if args.no_download else None)
    for p, j in zip(args.photos, jsons):
        if p not in images:
            continue
        try:
            est = est_lib.estimate(p, args.person, images[p], model)
        except ValueError as e:
            if len(args.photos) == 1:
                raise
            failed.append(str(e))
            print(f"pinet-tf keypoints: {e}", file=sys.stderr)
            continue
        print(est_lib.describe(est))
        write_json(j, openpose_document(est.triples), sort_keys=False)
        print(f"wrote {j}")
        if args.draw:
            picture = drawing.draw_skeleton(est.keypoints(), *est.image.shape[:2],
                                            background=est.image)
            drawing.save_png_atomic(drawing_path(j), picture)
            print(f"wrote {drawing_path(j)}")
    return 1 if failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "keypoints", help="estimate the 18 body keypoints of a photo (OpenPose JSON, offline)",
        description="Find the person in each photo with BlazePose (MediaPipe's model files, run "
                    "with TFLite) and write their 18 COCO keypoints as OpenPose JSON, which "
                    "every verb reads (--source-keypoints, --target-keypoints, ...).")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    p.add_argument("--out", required=True,
                   help="a .json file (one photo) or a folder (NAME_keypoints.json per photo)")
    p.add_argument("--draw", action="store_true",
                   help="also write the skeleton over the photo, beside each JSON (.png)")
    p.add_argument("--person", type=int, default=None, metavar="N",
                   help="which person when there are several (0: the largest, the default)")
    p.add_argument("--no-download", action="store_true",
                   help="never download BlazePose's model files (error if not found locally)")
    p.set_defaults(func=keypoints_command)
