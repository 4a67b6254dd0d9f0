"""`pinet-tf train`: train PINet into a run directory (see `pinet_tf.training.run`).

Where a value comes from, first match wins: the option given, the `--recipe`, then (for
`--config`) the config file beside `--init-weights`, then `TrainConfig` / "official".
With `--resume` the run directory's configs are used.
"""

#: Options that map to TrainConfig fields (option dest -> field); None means "not given".
_TRAIN_OPTIONS = {"schedule": "schedule", "steps": "steps", "batch_size": "batch_size",
                  "lr": "learning_rate", "decay_steps": "decay_steps",
                  "l1_person_weight": "l1_person_weight",
                  "l1_person_weight_joint": "l1_person_weight_joint",
                  "perceptual_weight": "perceptual_weight",
                  "gan_weight": "gan_weight", "vgg_weights": "vgg_weights",
                  "checkpoint_every": "checkpoint_every", "log_every": "log_every",
                  "image_every": "image_every", "curve_every": "curve_every",
                  "curve_pairs": "curve_pairs", "seed": "seed", "strategy": "strategy",
                  "init_weights": "init_weights"}


def _steps(text):
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ValueError(f"--steps takes comma-separated integers (a,b,c), got {text!r}") from None


def _class_weights(items):
    """`--l1-class-weight NAME=W` (repeated) -> {NAME: W}; names are checked by TrainConfig."""
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--l1-class-weight takes NAME=W (e.g. shoes=4), got {item!r}")
    return weights


def configs(args):
    """(ModelConfig, TrainConfig) from the parsed options (module docstring)."""
    import dataclasses

    from pinet_tf.config import resolve_config
    from pinet_tf.models.io import resolve_weights
    from pinet_tf.training.config import TrainConfig, recipe

    preset, options = recipe(args.recipe) if args.recipe else (None, {})
    for dest, field in _TRAIN_OPTIONS.items():
        value = getattr(args, dest)
        if value is not None:
            options[field] = _steps(value) if dest == "steps" else value
    if args.l1_class_weight:
        options["l1_class_weights"] = _class_weights(args.l1_class_weight)
    if args.mixed_precision:
        options["mixed_precision"] = True
    if args.no_shuffle:
        options["shuffle"] = False
    if args.no_download:
        options["allow_download"] = False
    if args.config is not None:
        cfg = resolve_config(args.config)
    elif args.init_weights:
        cfg = resolve_weights(args.init_weights)[1]  # its config.json / PREFIX.config.json
    else:
        cfg = resolve_config(preset or "official")
    if args.discriminator_dropout is not None:
        cfg = dataclasses.replace(cfg, discriminator_dropout=args.discriminator_dropout)
    if args.convolution is not None:
        cfg = dataclasses.replace(cfg, convolution=args.convolution)
    if args.output_clamp is not None:
        cfg = dataclasses.replace(cfg, output_clamp=args.output_clamp)
    if args.parsing_feed is not None:
        cfg = dataclasses.replace(cfg, parsing_feed=args.parsing_feed)
    if args.no_output_batch_norm:
        cfg = dataclasses.replace(cfg, output_batch_norm=False)
    if args.stages is not None:
        cfg = dataclasses.replace(cfg, stages=args.stages)
    return cfg, TrainConfig(**options)


def log_verbosity(verbose, stream=None) -> int:
    """`--verbose`, or by default Keras's progress bar (1) on a terminal and one line per logging
    interval (2) when the output goes to a file or a pipe, where a bar's redraws pile up."""
    import sys

    if verbose is not None:
        return verbose
    stream = sys.stdout if stream is None else stream
    return 1 if getattr(stream, "isatty", lambda: False)() else 2


def train_command(args) -> int:
    from pinet_tf.training.callbacks import NonFiniteLossError
    from pinet_tf.training.run import train

    if args.resume:
        from pinet_tf.config import resolve_config

        cfg, train_cfg = (resolve_config(args.config) if args.config else None), None
    else:
        cfg, train_cfg = configs(args)
    try:
        result = train(cfg, train_cfg, args.out, data=args.data, resume=args.resume,
                       verbose=log_verbosity(args.verbose), data_changed=args.data_changed)
    except NonFiniteLossError as e:
        print(f"pinet-tf train: {e}")
        return 1
    metrics = result.get("metrics", {})
    print(f"trained {result['step']} steps into {args.out}")
    if metrics:
        print(f"held-out pairs ({result['split']} split): " + ", ".join(
            f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
    if "results" in result:
        parsing = "parsing | " if "parsing_accuracy" in metrics else ""  # none for stages=1
        print(f"results picture (source | target pose | {parsing}generated | target): "
              f"{result['results']}")
    return 0


def register(subparsers) -> None:
    from pinet_tf.config import CONVOLUTIONS, FEEDS, OUTPUT_CLAMPS, PRESETS, STAGES
    from pinet_tf.training.config import RECIPES, SCHEDULES

    p = subparsers.add_parser(
        "train", help="train PINet (paper's staged or the authors' joint schedule)",
        description="Train PINet into RUN_DIR (config, checkpoints, TensorBoard logs, final "
                    "weights, results picture). Without --data a synthetic set is made first.")
    p.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                   help="named settings (tiny: the Quick start's 64x44 run, about 4 min of "
                        "training on 2 CPU cores); options given explicitly override it")
    p.add_argument("--config", default=None, metavar="NAME|FILE",
                   help=f"model preset ({', '.join(PRESETS)}) or a config JSON file "
                        f"(default: the recipe's, --init-weights' or official)")
    p.add_argument("--data", default=None, help="pair-records directory (pinet-tf "
                   "make-tfrecords); default: the run's own with --resume, else make a "
                   "synthetic set under RUN_DIR/data")
    p.add_argument("--data-changed", action="store_true",
                   help="with --resume: continue on --data although the run trained on other "
                        "records (RUN_DIR/data.json; without this a different --data is "
                        "refused, and --resume without --data uses the run's own)")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--init-weights", default=None, metavar="WEIGHTS",
                   help="start from PREFIX.weights.h5 (e.g. from import-torch) or a run "
                        "directory: the generator, and the discriminators beside it if present")
    p.add_argument("--schedule", default=None, choices=SCHEDULES, help="default: paper")
    p.add_argument("--steps", default=None, help="a,b,c steps of the paper's three phases "
                   "(parsing, image, joint) or N joint steps for the official schedule "
                   "(default 60000,60000,90000 / the authors' 700 epochs of 4000 pairs)")
    p.add_argument("--batch-size", type=int, default=None, help="default 6")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 2e-4)")
    p.add_argument("--decay-steps", type=int, default=None, metavar="N",
                   help="the learning rate falls linearly to 0 over the last N steps of the run "
                        "(default: the last 4/9 of phase 3 for the paper schedule, as in the "
                        "paper; the authors' last 2/7 for the official one)")
    p.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="VGG19 weights for the perceptual loss: Keras's notop .h5 or "
                        "torchvision's vgg19-dcbb9e9d.pth (default: found in "
                        "$PINET_TF_WEIGHTS_DIR or the Keras cache, else downloaded)")
    p.add_argument("--no-download", action="store_true",
                   help="never download weights (also $PINET_TF_NO_DOWNLOAD=1)")
    p.add_argument("--perceptual-weight", type=float, default=None,
                   help="perceptual loss weight (default 0.5 paper / 1 official; 0 needs no VGG)")
    p.add_argument("--l1-person-weight", type=float, default=None, metavar="W",
                   help="a person pixel (true target class not background) counts W times in "
                        "the image L1 (default 1, the authors' plain mean; the demo model: 10)")
    p.add_argument("--l1-person-weight-joint", type=float, default=None, metavar="W",
                   help="the person weight in the joint phase (paper phase 3, every official "
                        "step; default: --l1-person-weight)")
    p.add_argument("--l1-class-weight", action="append", default=None, metavar="NAME=W",
                   help="the pixels of parsing class NAME (hair, shoes, ...) count W times more "
                        "in the image L1, on top of the person weight; repeat for more classes "
                        "(default: none)")
    p.add_argument("--gan-weight", type=float, default=None,
                   help="weight of the adversarial losses (default 5, paper and code)")
    p.add_argument("--discriminator-dropout", type=float, default=None, metavar="P",
                   help="dropout in the discriminators' residual blocks (default: the "
                        "config's, 0.5 as the authors')")
    p.add_argument("--convolution", choices=CONVOLUTIONS, default=None,
                   help="the paper's gated convolution (default) or the 'vanilla' ablation: "
                        "plain convolutions of the same geometry (paper Table 3)")
    p.add_argument("--stages", type=int, choices=STAGES, default=None,
                   help="2: PINet (parsing generator, then image generator); 1: the paper's "
                        "one-level ablation, no parsing generator, the image generator fed the "
                        "source image and both poses only (Table 3). Default: the config's")
    p.add_argument("--output-clamp", choices=OUTPUT_CLAMPS, default=None,
                   help="'hard' (the authors' clamp, zero gradient where saturated) or "
                        "'straight_through' (same output, gradient passed through; not "
                        "official). Default: the config's")
    p.add_argument("--no-output-batch-norm", action="store_true",
                   help="no BatchNorm on the image generator's last layer (the authors' code "
                        "has it; not official; docs/results/appearance.md item 13)")
    p.add_argument("--parsing-feed", choices=FEEDS, default=None,
                   help="how G_p's parsing enters G_i: 'logits' (the authors'), 'softmax' (the "
                        "paper's), or 'onehot' (the argmax, as in the paper's phase 2; not "
                        "official). Default: the config's")
    p.add_argument("--no-shuffle", action="store_true", help="feed the train split in record "
                   "order (step k: pairs kB..kB+B-1) instead of seeded shuffling")
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 with loss "
                   "scaling")
    p.add_argument("--strategy", default=None, choices=["default", "mirrored", "multiworker"])
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its "
                   "last checkpoint (same step, phase, optimizer state and data position)")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--log-every", type=int, default=None, help="steps per TensorBoard scalar "
                   "write and per progress-bar epoch")
    p.add_argument("--image-every", type=int, default=None)
    p.add_argument("--curve-every", type=int, default=None, metavar="N",
                   help="every N steps, the held-out person-region L1 of the model and of "
                        "paint-by-parsing (RUN_DIR/curve.jsonl and TensorBoard); 0: off "
                        "(default: the recipe's, else off)")
    p.add_argument("--curve-pairs", type=int, default=None, metavar="K",
                   help="held-out pairs the curve measures (default 64)")
    p.add_argument("--seed", type=int, default=None, help="default 0")
    p.add_argument("--verbose", type=int, default=None, choices=[0, 1, 2],
                   help="0: silent; 1: a progress bar (default on a terminal); 2: one line per "
                        "--log-every steps (default when the output is redirected to a file)")
    p.set_defaults(func=train_command)
