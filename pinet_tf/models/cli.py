"""`pinet-tf summary`: layer tables and parameter counts of the generators and discriminators."""


def _trainable(model) -> int:
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def summary_command(args) -> int:
    import dataclasses

    from pinet_tf import models
    from pinet_tf.config import resolve_config

    cfg = resolve_config(args.config)
    if args.convolution:
        cfg = dataclasses.replace(cfg, convolution=args.convolution)
    gp = models.build_parsing_generator(cfg)
    gi = models.build_image_generator(cfg)
    generator = models.build_generator(cfg, gp, gi)
    dp = models.build_pose_discriminator(cfg)
    da = models.build_appearance_discriminator(cfg)
    if args.verbose:
        for m in (gp, gi, dp, da):
            m.summary(line_length=110)
    print(f"config {cfg.name}: {cfg.image_height}x{cfg.image_width}, ngf {cfg.ngf}, "
          f"ndf {cfg.ndf}, {cfg.convolution} convolution")
    rows = [("parsing generator G_p", gp), ("image generator G_i", gi),
            ("generator G_p + G_i", generator), ("pose discriminator D_P", dp),
            ("appearance discriminator D_A", da)]
    for label, model in rows:
        print(f"  {label:<30} {_trainable(model):>12,d} trainable parameters")
    return 0


def register(subparsers) -> None:
    from pinet_tf.config import CONVOLUTIONS, PRESETS

    p = subparsers.add_parser("summary", help="print the models' parameter counts")
    p.add_argument("--config", default="official",
                   help=f"model preset ({', '.join(PRESETS)}) or a config JSON file")
    p.add_argument("--convolution", choices=CONVOLUTIONS, default=None,
                   help="the paper's gated convolution or the 'vanilla' ablation (Table 3)")
    p.add_argument("--verbose", action="store_true", help="also print every layer")
    p.set_defaults(func=summary_command)
