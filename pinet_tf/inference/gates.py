"""`pinet-tf gates`: the gate masks of every gated layer for one photo (paper Fig. 8).

    pinet-tf gates --model RUN_DIR --source examples/person.png \
        --source-keypoints examples/person_keypoints.json \
        --source-parsing examples/person_parsing.png \
        --target-keypoints examples/target_keypoints.json --out gates.png

Reads and fits the inputs exactly as `pinet-tf transfer` does (same readers, same `--fit`), runs
the Keras generator once and draws: the source and the target pose (in the model's frame), then
the mean gate of each gated layer of G_p and then G_i in network order, labelled with the layer's
name and resolution, then the predicted parsing and the result. `--save-arrays FILE.npz` also
keeps the maps (one array [h, w] per layer, named after it). The function behind it is
`pinet_tf.models.gates.pose_transfer_with_gates`.

A SavedModel export has no per-layer gates to read: give a run directory or a `.weights.h5`.
A one-stage model (`stages=1`, no G_p) shows G_i's gated layers only, needs no
`--source-parsing` and has no predicted-parsing panel.
"""

from __future__ import annotations

import os


def gates_command(args) -> int:
    import numpy as np

    from pinet_tf.inference import pipeline
    from pinet_tf.inference.cli import _check_out
    from pinet_tf.inference.frame import Fit
    from pinet_tf.inference.predictor import is_saved_model
    from pinet_tf.utils import drawing

    _check_out(args.out)
    if args.save_arrays and not args.save_arrays.endswith(".npz"):
        raise ValueError(f"--save-arrays must name a .npz file, got {args.save_arrays!r}")
    if args.model and (is_saved_model(args.model)
                       or os.path.isfile(os.path.join(args.model, "1", "saved_model.pb"))):
        raise ValueError(f"{args.model}: a SavedModel has no per-layer gates to read; give a "
                         f"run directory or a .weights.h5 file")
    from pinet_tf.inference.cli import _peek_config

    cfg = _peek_config(args)
    one_stage = cfg is not None and not cfg.has_parsing
    source = pipeline.load_person(args.source, args.source_keypoints,
                                  None if one_stage else args.source_parsing,
                                  min_confidence=args.min_confidence,
                                  parsing_labels=args.parsing_labels, person=args.person)
    from pinet_tf.inference.pose.complete import complete

    complete(source, need_parsing=not one_stage, min_confidence=args.min_confidence,
             which=args.person)
    if args.target_keypoints and (args.target_image or args.target_image_keypoints):
        raise ValueError("give the target pose once: --target-keypoints, or --target-image "
                         "(with or without --target-image-keypoints), not both")
    if args.target_image_keypoints and not args.target_image:
        raise ValueError("--target-image-keypoints needs --target-image (the photo they belong "
                         "to)")
    target_photo = None
    if args.target_keypoints:
        target_kp = pipeline.load_keypoints_for(args.target_keypoints, source.image.shape,
                                                args.source, args.min_confidence,
                                                args.target_person, "--target-person")
    elif args.target_image:  # the pose of another photo, estimated unless its file is given
        from pinet_tf.inference.cli import target_pose_photo

        target_photo = target_pose_photo(args)
    else:
        raise ValueError("give a target pose: --target-keypoints (in the source photo's frame) "
                         "or --target-image (its pose is estimated unless "
                         "--target-image-keypoints is given)")

    from pinet_tf.inference.cli import load_model
    from pinet_tf.models.gates import gate_picture, pose_transfer_with_gates, skipped_layers

    generator, cfg = load_model(args, keras=True)
    h, w = cfg.image_size
    fit = Fit.make(*source.size, h, w, args.fit)
    src_kp = fit.keypoints(source.keypoints)
    if target_photo is None:
        tgt_kp = fit.keypoints(target_kp)
    else:  # the target photo's pose, fitted into the model's frame as its own photo
        tgt_kp = Fit.make(*target_photo.size, h, w, args.fit).keypoints(target_photo.keypoints)
    for kp, what in ((src_kp, args.source_keypoints or args.source),
                     (tgt_kp, args.target_keypoints or args.target_image_keypoints
                      or args.target_image)):
        pipeline._require_pose(kp, what)
    src_img = fit.image(source.image)
    src_par = None if source.parsing is None else fit.parsing(source.parsing)[None]
    out, maps = pose_transfer_with_gates(generator, cfg, src_img[None], src_par,
                                         src_kp[None].astype(np.float32),
                                         tgt_kp[None].astype(np.float32))
    picture = gate_picture(
        maps,
        [("source", src_img), ("target pose", drawing.draw_skeleton(tgt_kp, h, w))],
        ([("predicted parsing", drawing.colorize_parsing(out["parsing"][0]))]
         if "parsing" in out else []) + [("result", out["image"][0])],
        columns=args.columns)
    drawing.save_png_atomic(args.out, picture)
    print(f"wrote {args.out}: {len(maps)} gated layers "
          f"({sum(m.name.startswith('gp_') for m in maps)} of G_p, "
          f"{sum(m.name.startswith('gi_') for m in maps)} of G_i)"
          + ("; a grey panel is a layer without a gate (layer 10: the self-attention block)"
             if skipped_layers(maps) else ""))
    if args.save_arrays:
        from pinet_tf.utils.atomic import atomic_path

        with atomic_path(args.save_arrays, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **{m.name: m.mask[0] for m in maps})
        print(f"wrote {args.save_arrays}")
    return 0


def register(subparsers) -> None:
    from pinet_tf.inference.cli import _common

    p = subparsers.add_parser(
        "gates", help="the gate masks of every gated layer for one photo (paper Fig. 8)",
        description="Draw the mean gate activation of every gated layer of G_p and G_i for one "
                    "source photo and target pose, beside the inputs and the result.")
    _common(p, grid=False)
    p.add_argument("--source", required=True, help="the person's photo (any size)")
    p.add_argument("--source-keypoints", help="keypoint file of --source (the formats "
                   "`transfer` takes); default: estimated from the photo")
    p.add_argument("--source-parsing", help="parsing label PNG of --source (not for a "
                   "one-stage model, stages=1); default: a rough one made from the pose")
    p.add_argument("--target-keypoints",
                   help="target pose in the source photo's frame (or give --target-image)")
    p.add_argument("--target-image", help="a photo whose pose is the target (estimated unless "
                                          "--target-image-keypoints are given)")
    p.add_argument("--target-image-keypoints", help="keypoint file of --target-image")
    p.add_argument("--target-person", type=int, default=None, metavar="N",
                   help="which person of a target keypoint file holding several")
    p.add_argument("--out", required=True, help="picture PNG")
    p.add_argument("--columns", type=int, default=9, help="panels per row (default: %(default)s)")
    p.add_argument("--save-arrays", help="also write the maps as a .npz (one [h, w] per layer)")
    p.set_defaults(func=gates_command)
