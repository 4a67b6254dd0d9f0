"""`pinet-tf summary`: layer tables and parameter counts of the generators and discriminators,
and the generator of each ablation variant (paper Table 3) at the same widths."""

#: Table 3's variants as ModelConfig changes: name -> (convolution, stages).
VARIANTS = {"full": ("gated", 2), "vanilla": ("vanilla", 2), "one_stage": ("gated", 1),
            "one_stage+vanilla": ("vanilla", 1)}


def _trainable(model) -> int:
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def variant_counts(cfg) -> dict:
    """{variant: {"parsing": G_p or 0, "image": G_i, "generator": total}} at cfg's widths."""
    import dataclasses

    from pinet_tf import models

    counts = {}
    for name, (convolution, stages) in VARIANTS.items():
        v = dataclasses.replace(cfg, convolution=convolution, stages=stages)
        gp = _trainable(models.build_parsing_generator(v)) if v.has_parsing else 0
        gi = _trainable(models.build_image_generator(v))
        counts[name] = {"parsing": gp, "image": gi, "generator": gp + gi}
    return counts


def summary_command(args) -> int:
    import dataclasses

    from pinet_tf import models
    from pinet_tf.config import resolve_config

    cfg = resolve_config(args.config)
    if args.convolution:
        cfg = dataclasses.replace(cfg, convolution=args.convolution)
    if args.stages:
        cfg = dataclasses.replace(cfg, stages=args.stages)
    gp = models.build_parsing_generator(cfg) if cfg.has_parsing else None
    gi = models.build_image_generator(cfg)
    generator = models.build_generator(cfg, gp, gi)
    dp = models.build_pose_discriminator(cfg)
    da = models.build_appearance_discriminator(cfg)
    if args.verbose:
        for m in (gp, gi, dp, da):
            if m is not None:
                m.summary(line_length=110)
    print(f"config {cfg.name}: {cfg.image_height}x{cfg.image_width}, ngf {cfg.ngf}, "
          f"ndf {cfg.ndf}, {cfg.convolution} convolution, {cfg.stages} stage(s)")
    rows = [("parsing generator G_p", gp), ("image generator G_i", gi),
            ("generator G_p + G_i" if gp is not None else "generator (G_i alone)", generator),
            ("pose discriminator D_P", dp), ("appearance discriminator D_A", da)]
    for label, model in rows:
        if model is None:
            print(f"  {label:<30} {'-':>12} (stages=1: none)")
        else:
            print(f"  {label:<30} {_trainable(model):>12,d} trainable parameters")
    if not args.no_variants:
        print(f"ablation variants (paper Table 3) at these widths, generator parameters "
              f"(the discriminators are the same for all):")
        for name, c in variant_counts(cfg).items():
            print(f"  {name:<18} G_p {c['parsing']:>12,d}  G_i {c['image']:>12,d}  "
                  f"total {c['generator']:>12,d}")
    return 0


def register(subparsers) -> None:
    from pinet_tf.config import CONVOLUTIONS, PRESETS, STAGES

    p = subparsers.add_parser("summary", help="print the models' parameter counts")
    p.add_argument("--config", default="official",
                   help=f"model preset ({', '.join(PRESETS)}) or a config JSON file")
    p.add_argument("--convolution", choices=CONVOLUTIONS, default=None,
                   help="the paper's gated convolution or the 'vanilla' ablation (Table 3)")
    p.add_argument("--stages", type=int, choices=STAGES, default=None,
                   help="2: PINet; 1: the one-level ablation without G_p (Table 3)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the table of the ablation variants' parameter counts")
    p.add_argument("--verbose", action="store_true", help="also print every layer")
    p.set_defaults(func=summary_command)
