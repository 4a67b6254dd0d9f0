"""`pinet-tf evaluate`: score a trained model and two baselines on the test pairs, with a report."""

import contextlib
import os


@contextlib.contextmanager
def _env(name, value):
    """$name = value (when given) for the block only."""
    old = os.environ.get(name)
    if value:
        os.environ[name] = value
    try:
        yield
    finally:
        if value:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def evaluate_command(args) -> int:
    from pinet_tf.evaluation.evaluator import evaluate
    from pinet_tf.utils.weights import ENV_DIR

    if args.weights_dir and not os.path.isdir(args.weights_dir):
        raise FileNotFoundError(f"--weights-dir {args.weights_dir} is not a directory")
    data = args.data
    if data is None:
        if args.run is None:
            raise ValueError("--saved-model needs --data RECORDS (a records directory from "
                             "`pinet-tf make-tfrecords`); only --run knows its own data")
        from pinet_tf.evaluation.evaluator import run_records

        data = run_records(args.run)
        print(f"data: {data} (the run's own records)")
    with _env(ENV_DIR, args.weights_dir):
        report = evaluate(data, args.out, run=args.run, saved_model=args.saved_model,
                          limit=args.limit, batch_size=args.batch_size, split=args.split,
                          images_dir=args.images_dir, lpips_net=args.lpips_net,
                          lpips_heads=args.lpips_heads, lpips_backbone=args.lpips_backbone,
                          inception_weights=args.inception_weights, grid_k=args.grid,
                          progress=not args.no_progress,
                          allow_download=False if args.no_download else None,
                          protocol=args.protocol, real_set=args.real_set)
    for method, vals in report["metrics"].items():
        print(f"{method:<12} " + "  ".join(f"{k} {v:.4f}" for k, v in vals.items()))
    for k, why in report["skipped"].items():
        print(f"skipped {k}: {why}")
    if "protocol_scores" in report:
        ps = report["protocol_scores"]
        print(f"protocol {ps['protocol']}: " + "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in ps["metrics"].items() if v is not None))
    print(f"report: {args.out} and {report['files']['markdown']}"
          + (f"; best/worst pairs: {report['files']['grid']}" if report["files"]["grid"] else ""))
    return 0


def score_command(args) -> int:
    from pinet_tf.evaluation.scoring import score
    from pinet_tf.utils.weights import ENV_DIR

    if args.weights_dir and not os.path.isdir(args.weights_dir):
        raise FileNotFoundError(f"--weights-dir {args.weights_dir} is not a directory")
    with _env(ENV_DIR, args.weights_dir):
        report = score(args.protocol, args.generated, args.real, args.out,
                       real_set=args.real_set, lpips_heads=args.lpips_heads,
                       lpips_backbone=args.lpips_backbone,
                       inception_weights=args.inception_weights,
                       allow_download=False if args.no_download else None,
                       progress=not args.no_progress)
    shown = {k: v for k, v in report["metrics"].items() if v is not None}
    print(f"{args.protocol}: " + "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))
    for k, why in report["skipped"].items():
        print(f"skipped {k}: {why}")
    print(f"report: {args.out}")
    return 0


def _weights_args(p) -> None:
    p.add_argument("--weights-dir", help="folder of metric weights (sets $PINET_TF_WEIGHTS_DIR)")
    p.add_argument("--no-download", action="store_true",
                   help="never download metric weights (as PINET_TF_NO_DOWNLOAD=1): a metric "
                        "whose file is not found is skipped")
    p.add_argument("--lpips-heads", help="LPIPS linear heads file (lpips wheel's v0.1/<net>.pth)")
    p.add_argument("--lpips-backbone", help="torchvision alexnet/vgg16 state dict (.pth or .npz)")
    p.add_argument("--inception-weights", help="keras.applications InceptionV3 weights file "
                                               "(with classifier for IS; notop gives FID only)")


def register(subparsers) -> None:
    from pinet_tf.evaluation.protocols import PROTOCOLS

    p = subparsers.add_parser(
        "evaluate", help="generate the test pairs and report SSIM/L1/PSNR/LPIPS/FID/IS "
                         "with baselines")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="training run directory (RUN_DIR)")
    src.add_argument("--saved-model", help="exported SavedModel (a version folder or its base)")
    p.add_argument("--data", default=None,
                   help="records directory (pinet-tf make-tfrecords); default with --run: the "
                        "records the run trained on")
    p.add_argument("--out", required=True, help="report .json (a .md, a grid PNG and an images "
                                                "folder are written beside it)")
    p.add_argument("--limit", type=int, help="evaluate only the first N pairs")
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--images-dir", help="where generated PNGs go (default: <out>_images)")
    _weights_args(p)
    p.add_argument("--lpips-net", default="alex", choices=["alex", "vgg"])
    p.add_argument("--protocol", choices=list(PROTOCOLS),
                   help="also score the generated images as `pinet-tf score --protocol` does "
                        "(targets written beside them, report <out>_<protocol>.json)")
    p.add_argument("--real-set", help="with --protocol: the FID real-set folder")
    p.add_argument("--grid", type=int, default=4, help="best/worst pairs in the grid picture "
                                                      "(0: no picture)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=evaluate_command)

    p = subparsers.add_parser(
        "score", help="score a folder of results under a paper's metric recipe "
                      "(pairs by file name)")
    p.add_argument("--protocol", required=True, choices=list(PROTOCOLS),
                   help="whose recipe: patn, gfla, pidm, cfld (the papers' scripts) or pinet "
                        "(this project's); docs/guides/evaluation.md lists each step")
    p.add_argument("--generated", required=True, help="folder of generated images")
    p.add_argument("--real", required=True, help="folder of real target images, same file names")
    p.add_argument("--real-set", help="FID real set folder (the peers use the training images)")
    p.add_argument("--out", required=True, help="report .json (a .md is written beside it)")
    _weights_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=score_command)
