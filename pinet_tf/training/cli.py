"""`pinet-tf train`: train PINet into a run directory (see `pinet_tf.training.run`)."""


def _steps(text):
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ValueError(f"--steps takes comma-separated integers (a,b,c), got {text!r}") from None


def train(args) -> int:
    from pinet_tf.config import ModelConfig
    from pinet_tf.training.callbacks import NonFiniteLossError
    from pinet_tf.training.config import TrainConfig
    from pinet_tf.training.run import train as run_train

    cfg = ModelConfig.preset(args.config)
    steps = _steps(args.steps) if args.steps else (
        (60_000, 60_000, 90_000) if args.schedule == "paper" else (700 * 4000 // 6,))
    options = dict(schedule=args.schedule, steps=steps, batch_size=args.batch_size,
                   learning_rate=args.lr, perceptual_weight=args.perceptual_weight,
                   gan_weight=args.gan_weight,
                   vgg_weights=args.vgg_weights, mixed_precision=args.mixed_precision,
                   strategy=args.strategy, seed=args.seed)
    for name in ("checkpoint_every", "log_every", "image_every"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    train_cfg = TrainConfig(**options)
    try:
        result = run_train(cfg, train_cfg, args.out, data=args.data, resume=args.resume,
                           verbose=args.verbose)
    except NonFiniteLossError as e:
        print(f"pinet-tf train: {e}")
        return 1
    metrics = result.get("metrics", {})
    print(f"trained {result['step']} steps into {args.out}")
    if metrics:
        print("held-out pairs: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())))
    if "results" in result:
        print(f"results picture (source | target pose | parsing | generated | target): "
              f"{result['results']}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train PINet (paper's staged or the authors' joint schedule)",
        description="Train PINet into RUN_DIR (config, checkpoints, TensorBoard logs, final "
                    "weights, results picture). Without --data a synthetic set is made first.")
    p.add_argument("--config", default="official", choices=["official", "paper", "tiny"])
    p.add_argument("--data", default=None, help="pair-records directory (pinet-tf "
                   "make-tfrecords); default: make a synthetic set under RUN_DIR/data")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--schedule", default="paper", choices=["paper", "official"])
    p.add_argument("--steps", default=None, help="a,b,c steps of the paper's three phases "
                   "(parsing, image, joint) or N joint steps for the official schedule")
    p.add_argument("--batch-size", type=int, default=6)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="local VGG19 notop weights (.h5) for the perceptual loss")
    p.add_argument("--perceptual-weight", type=float, default=None,
                   help="perceptual loss weight (default 0.5 paper / 1 official; 0 needs no VGG)")
    p.add_argument("--gan-weight", type=float, default=5.0,
                   help="weight of the adversarial losses (paper and code: 5)")
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 with loss "
                   "scaling")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored",
                                                             "multiworker"])
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its "
                   "last checkpoint (same step, phase and optimizer state)")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--log-every", type=int, default=None, help="steps per TensorBoard scalar "
                   "write and per progress-bar epoch")
    p.add_argument("--image-every", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    p.set_defaults(func=train)
