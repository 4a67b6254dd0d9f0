"""`pinet-tf transfer` and `pinet-tf texture`: run a trained model on a user's own photos."""

from __future__ import annotations

import os

from pinet_tf.inference.frame import FIT_MODES
from pinet_tf.inference.readers import DEFAULT_MIN_CONFIDENCE, PARSING_LABEL_SETS


#: What happens when a photo's keypoints / parsing are not given (the flags' help).
PHOTO_ALONE_KP = "; default: estimated from the photo (BlazePose, see `pinet-tf keypoints`)"
PHOTO_ALONE_PARSING = ("; default: a rough parsing made from the estimated pose (a human "
                       "parser's output is better)")
#: The file inputs of each verb: no output may be one of them (`_check_not_inputs`).
_INPUTS = {"transfer": ("source", "source_keypoints", "source_parsing", "target_keypoints",
                        "target_image_keypoints", "target_image", "config"),
           "texture": ("source", "source_keypoints", "source_parsing", "condition",
                       "condition_parsing", "config")}


def _grid_path(out: str) -> str:
    stem, _ = os.path.splitext(out)
    return stem + "_grid.png"


def _check_out(out: str, what: str = "picture"):
    from pinet_tf.utils.readers import check_writable

    if not out.lower().endswith(".png"):
        raise ValueError(f"--out must name a .png file, got {out!r}")
    check_writable(out, what)


def _check_not_inputs(args, outs, flags) -> None:
    """No output (`outs`: (what, path), the grid's included) is one of the input files
    (`flags`: the verb's input options)."""
    from pinet_tf.utils.paths import check_not_input

    inputs = {"--" + f.replace("_", "-"): getattr(args, f, None) for f in flags}
    if args.model and os.path.isfile(args.model):
        inputs["--model"] = args.model
    for what, out in outs:
        check_not_input(out, inputs, what)


def load_model(args, keras: bool = False):
    """The predictor of `--model` (a Keras generator and its config with `keras=True`), or the
    built-in demo model, saying so in one line, when --model is not given."""
    import sys

    if args.model is None:
        from pinet_tf.inference import demo

        print(demo.NOTICE, file=sys.stderr, flush=True)
        return demo.load_demo() if keras else demo.load_demo_predictor()
    if keras:
        from pinet_tf.models.io import load_generator

        return load_generator(args.model, args.config)
    from pinet_tf.inference.predictor import load_predictor

    return load_predictor(args.model, args.config)


def _peek_config(args):
    """The model's ModelConfig read before the inputs are (stages decides whether a parsing
    is needed); None when it cannot be read now: loading the model reports why, later. The
    built-in demo model (no --model) is two-stage."""
    if args.model is None:
        return None
    from pinet_tf.inference.predictor import model_config

    try:
        return model_config(args.model, args.config)
    except (OSError, ValueError):
        return None


def target_pose_photo(args):
    """The photo of --target-image with its keypoints (--target-image-keypoints, else estimated):
    the target pose of `transfer` and `gates`."""
    from pinet_tf.inference import pipeline
    from pinet_tf.inference.pose.complete import complete

    photo = pipeline.load_person(args.target_image, args.target_image_keypoints,
                                 min_confidence=args.min_confidence, person=args.target_person,
                                 choose_with="--target-person")
    complete(photo, need_parsing=False, min_confidence=args.min_confidence,
             which=args.target_person, choose_with="--target-person",
             keypoints_flag="--target-image-keypoints")
    return photo


def transfer_command(args) -> int:
    from pinet_tf.utils import drawing
    from pinet_tf.inference import pipeline
    from pinet_tf.inference.frame import Fit
    from pinet_tf.inference.pose.complete import complete

    if args.pairs or args.data:
        if not (args.data and args.out_dir):
            raise ValueError("batch mode needs --data DIR and --out-dir DIR (and optionally "
                             "--pairs CSV)")
        from pinet_tf.inference.batch import prepare_pairs, run_pairs
        from pinet_tf.utils.readers import check_writable

        check_writable(args.out_dir, "results folder", folder=True)
        prepared = prepare_pairs(args.data, args.pairs, args.split, args.limit,
                                 args.batch_size)
        predictor = load_model(args)
        written = run_pairs(predictor, prepared, args.out_dir, args.fit, args.grid,
                            args.batch_size)
        print(f"wrote {len(written)} results to {args.out_dir}")
        return 0

    cfg = _peek_config(args)
    one_stage = cfg is not None and not cfg.has_parsing  # needs no parsing, predicts none
    missing = [f for f, v in (("--source", args.source), ("--out", args.out)) if not v]
    if missing:
        raise ValueError(f"single-photo mode needs {', '.join(missing)} (or batch mode: "
                         f"--data DIR --out-dir DIR)")
    if args.target_keypoints and args.target_image_keypoints:
        raise ValueError("give one of --target-keypoints (in the source photo's frame) or "
                         "--target-image-keypoints with --target-image, not both")
    if not (args.target_keypoints or args.target_image):
        raise ValueError("give a target pose: --target-keypoints (in the source photo's frame) "
                         "or --target-image (its pose is estimated unless "
                         "--target-image-keypoints is given)")
    if args.target_image_keypoints and not args.target_image:
        raise ValueError("--target-image-keypoints needs --target-image (the photo they belong "
                         "to, for its size)")
    _check_out(args.out)
    if args.save_parsing:
        if one_stage:
            raise ValueError(f"--save-parsing: the model in {args.model} has stages=1 and "
                             f"predicts no parsing")
        _check_out(args.save_parsing, "parsing")
    _check_not_inputs(args, [("--out", args.out), ("--save-parsing", args.save_parsing),
                             ("--grid picture", _grid_path(args.out) if args.grid else None)],
                      _INPUTS["transfer"])

    # Read and check every input before loading the model: bad files fail fast.
    source = pipeline.load_person(args.source, args.source_keypoints,
                                  None if one_stage else args.source_parsing,
                                  min_confidence=args.min_confidence,
                                  parsing_labels=args.parsing_labels, person=args.person)
    complete(source, need_parsing=not one_stage, min_confidence=args.min_confidence,
             which=args.person)
    target_photo = None
    if args.target_keypoints:
        target_kp = pipeline.load_keypoints_for(args.target_keypoints, source.image.shape,
                                                args.source, args.min_confidence,
                                                args.target_person, "--target-person")
        if args.target_image:  # only a picture of the expected result, for the grid
            target_photo = pipeline.load_person(args.target_image)
    else:
        target_photo = target_pose_photo(args)
        target_kp = target_photo.keypoints

    predictor = load_model(args)
    h, w = predictor.image_size
    fit = Fit.make(*source.size, h, w, args.fit)
    ground_truth = None
    if target_photo is not None:
        target_fit = Fit.make(*target_photo.size, h, w, args.fit)
        ground_truth = target_fit.image(target_photo.image)
    if args.target_keypoints:
        target_model = fit.keypoints(target_kp)
    else:
        target_model = target_fit.keypoints(target_kp)
    result = pipeline.transfer(predictor, source, target_model, fit)
    picture = pipeline.transfer_grid(result, ground_truth) if args.grid else None

    drawing.save_png_atomic(args.out, result.image)
    print(f"wrote {args.out}")
    if args.save_parsing:
        drawing.save_png_atomic(args.save_parsing, result.parsing, palette=drawing.PARSING_PALETTE)
        print(f"wrote {args.save_parsing}")
    if picture is not None:
        drawing.save_png_atomic(_grid_path(args.out), picture)
        print(f"wrote {_grid_path(args.out)}")
    return 0


def texture_command(args) -> int:
    from pinet_tf.utils import drawing
    from pinet_tf.inference import pipeline
    from pinet_tf.models.texture import check_texture_model
    from pinet_tf.inference.pose.complete import complete

    cfg = _peek_config(args)
    if cfg is not None:
        check_texture_model(cfg, args.model)  # one line for a one-stage model, before any work
    _check_out(args.out)
    _check_not_inputs(args, [("--out", args.out),
                             ("--grid picture", _grid_path(args.out) if args.grid else None)],
                      _INPUTS["texture"])
    region_ids = pipeline.parse_regions(args.regions)
    source = pipeline.load_person(args.source, args.source_keypoints, args.source_parsing,
                                  min_confidence=args.min_confidence,
                                  parsing_labels=args.parsing_labels, person=args.person)
    condition = pipeline.load_person(args.condition, None, args.condition_parsing,
                                     parsing_labels=args.parsing_labels)
    complete(source, need_parsing=True, min_confidence=args.min_confidence, which=args.person)
    if condition.parsing is None:  # its rough parsing needs its pose
        complete(condition, need_parsing=True, keypoints_flag="keypoint file",
                 parsing_flag="--condition-parsing")
    predictor = load_model(args)
    image, model = pipeline.texture(predictor, source, condition, region_ids, args.fit)
    picture = pipeline.texture_grid(model) if args.grid else None
    drawing.save_png_atomic(args.out, image)
    print(f"wrote {args.out}")
    if picture is not None:
        drawing.save_png_atomic(_grid_path(args.out), picture)
        print(f"wrote {_grid_path(args.out)}")
    return 0


def _common(p, grid: bool = True):
    from pinet_tf.config import PRESETS  # light: no TensorFlow

    p.add_argument("--model", default=None,
                   help="RUN_DIR, a .weights.h5 file (with its .config.json), a SavedModel "
                        "directory or an export-tflite .tflite file (default: the built-in "
                        "demo model, trained on synthetic people)")
    p.add_argument("--config", default=None, metavar="NAME|FILE",
                   help=f"model preset ({', '.join(PRESETS)}) or a config JSON file, for a "
                        "weights file with no .config.json beside it")
    p.add_argument("--fit", default="pad", choices=FIT_MODES,
                   help="fit photos to the model's aspect ratio by padding (whole photo) or "
                        "centre-cropping (default: %(default)s)")
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help="keypoints with a lower confidence count as missing "
                        "(default: %(default)s)")
    p.add_argument("--parsing-labels", default="pinet", choices=PARSING_LABEL_SETS,
                   help="label ids in the parsing PNGs: the 12 PINet classes, or CIHP / LIP "
                        "(20 labels) / ATR (18 labels) parser output, mapped")
    p.add_argument("--person", type=int, default=None, metavar="N",
                   help="which person of a keypoint file holding several (OpenPose 'people', "
                        "COCO entries) is the source; default: the first, with a warning (for "
                        "an estimated pose: of the people found, 0 the largest)")
    if grid:
        p.add_argument("--grid", action="store_true",
                       help="also write OUT_grid.png: the inputs, skeletons, parsing and result")


def register(subparsers) -> None:
    from pinet_tf.utils.keypoint_files import FORMATS_HELP as keypoint_help
    p = subparsers.add_parser(
        "transfer", help="pose transfer on your own photo (or a batch of pairs)",
        description="Render the source person in a target pose. Single photo: --source, a "
                    "target pose (--target-keypoints or --target-image), --out; the photos' "
                    "keypoints are estimated and a rough parsing made when their files are not "
                    "given. Batch: --data DIR (authors' layout) --out-dir DIR [--pairs CSV].")
    _common(p)
    p.add_argument("--source", help="the person's photo (any size)")
    p.add_argument("--source-keypoints", help=keypoint_help + PHOTO_ALONE_KP)
    p.add_argument("--source-parsing", help="parsing label PNG, same size as --source (not "
                   "needed, and ignored, for a one-stage model: stages=1)" + PHOTO_ALONE_PARSING)
    p.add_argument("--target-keypoints", help="target pose in the source photo's frame; "
                                              + keypoint_help)
    p.add_argument("--target-person", type=int, default=None, metavar="N",
                   help="which person of a target keypoint file holding several")
    p.add_argument("--target-image-keypoints",
                   help="target pose taken from another photo (--target-image)")
    p.add_argument("--target-image", help="a photo whose pose is the target (estimated unless "
                                          "--target-image-keypoints are given); shown as "
                                          "ground truth in --grid (also with "
                                          "--target-keypoints, then only shown)")
    p.add_argument("--out", help="result PNG (the source photo's size)")
    p.add_argument("--save-parsing", help="also write the predicted parsing: a palette PNG that "
                   "shows the classes in the legend's colours and whose pixel values are the "
                   "class ids 0..11 (readable as a label map)")
    p.add_argument("--pairs", help="batch: pairs CSV (from,to); default: the data's own")
    p.add_argument("--data", help="batch: data folder in the authors' layout")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--out-dir", help="batch: folder for <from>___<to>.png results")
    p.add_argument("--limit", type=int, default=None, help="batch: only the first N pairs")
    p.add_argument("--batch-size", type=int, default=8,
                   help="batch: pairs per model call (default: %(default)s)")
    p.set_defaults(func=transfer_command)

    t = subparsers.add_parser(
        "texture", help="texture transfer (paper Eq. 11): dress a photo in another's clothes",
        description="Replace the chosen regions of the source person's parsing with the "
                    "condition person's clothes; every other pixel stays the source's own.")
    _common(t)
    t.add_argument("--source", required=True)
    t.add_argument("--source-keypoints", help=keypoint_help + PHOTO_ALONE_KP)
    t.add_argument("--source-parsing", help="parsing label PNG" + PHOTO_ALONE_PARSING)
    t.add_argument("--condition", required=True, help="photo of the clothes to take")
    t.add_argument("--condition-parsing", help="parsing label PNG" + PHOTO_ALONE_PARSING)
    t.add_argument("--regions", required=True,
                   help="comma-separated class names to replace, e.g. upper-clothes,pants "
                        "(from: background, hair, upper-clothes, dress, pants, neck, skirt, "
                        "face, hands, legs, shoes, hat)")
    t.add_argument("--out", required=True, help="result PNG (the source photo's size)")
    t.set_defaults(func=texture_command)
