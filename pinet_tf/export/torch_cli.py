"""`pinet-tf import-torch`: the authors' `.pth` checkpoints -> our `.weights.h5` files.

    pinet-tf import-torch latest_net_netG.pth --out pinet_official.weights.h5
        [--discriminators CHECKPOINT_DIR] [--config official|paper|tiny|CONFIG.json]

The generator goes to WEIGHTS with its config sidecar (`<base>.config.json`), so
`evaluate`, `transfer` and `export` take it like a trained run. With `--discriminators DIR`,
`<epoch>_net_netD_PB.pth` and `<epoch>_net_netD_PP.pth` from DIR (epoch from the generator's file
name, e.g. `latest`) are written beside it as `<base>.pose_discriminator.weights.h5` and
`<base>.appearance_discriminator.weights.h5`. The files are read with the safe reader: torch is
not needed and nothing in the pickles runs; every declared size is checked before anything is
read, and nothing is written unless every file was read and matched the model (then all outputs
are written atomically, `pinet_tf.utils.atomic`).
"""

import contextlib
import os
import re

from pinet_tf.utils.atomic import atomic_path


def resolve_config(value: str):
    """A preset name or the path of a ModelConfig JSON file."""
    from pinet_tf.config import ModelConfig

    if value.endswith(".json") or os.path.sep in value:
        if not os.path.isfile(value):
            raise FileNotFoundError(f"--config: no such config file: {value}")
        return ModelConfig.load(value)
    return ModelConfig.preset(value)


def discriminator_paths(ckpt: str, directory: str):
    """(netD_PB, netD_PP) checkpoint paths in `directory` for the generator file `ckpt`."""
    m = re.match(r"(.+)_net_netG\.pth$", os.path.basename(ckpt))
    epoch = m.group(1) if m else "latest"
    paths = tuple(os.path.join(directory, f"{epoch}_net_{label}.pth")
                  for label in ("netD_PB", "netD_PP"))
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"--discriminators: {p} not found (expected "
                                    f"{epoch}_net_netD_PB.pth and {epoch}_net_netD_PP.pth)")
    return paths


def discriminator_outputs(weights_path: str):
    base = weights_path[:-len(".weights.h5")]
    return (f"{base}.pose_discriminator.weights.h5",
            f"{base}.appearance_discriminator.weights.h5")


def import_torch_command(args) -> int:
    from pinet_tf.export.torch_import import import_discriminators, import_generator
    from pinet_tf.models.io import sidecar_config_path

    if not args.out.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5, got {args.out!r}")
    if not os.path.isfile(args.ckpt):
        raise FileNotFoundError(f"checkpoint not found: {args.ckpt}")
    cfg = resolve_config(args.config)
    d_paths = discriminator_paths(args.ckpt, args.discriminators) \
        if args.discriminators else None
    generator = import_generator(args.ckpt, cfg)
    discriminators = import_discriminators(*d_paths, cfg) if d_paths else ()
    # Everything read and checked: only now write, every file or none.
    outputs = [(generator, args.ckpt, args.out)]
    outputs += zip(discriminators, d_paths or (), discriminator_outputs(args.out))
    with contextlib.ExitStack() as stack:
        for model, _, dst in outputs:
            model.save_weights(stack.enter_context(atomic_path(dst, suffix=".weights.h5")))
        cfg.save(stack.enter_context(atomic_path(sidecar_config_path(args.out))))
    n = sum(int(w.numpy().size) for w in generator.weights)
    print(f"generator: {args.ckpt} -> {args.out} (config {cfg.name!r}, {n:,d} values)")
    for model, src, dst in outputs[1:]:
        print(f"{model.name}: {src} -> {dst}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-torch", help="import the authors' PyTorch checkpoint (no torch needed)",
        description="Convert the authors' latest_net_netG.pth (and optionally the "
                    "discriminators) into .weights.h5 files, reading the pickles safely.")
    p.add_argument("ckpt", help="generator state dict, e.g. latest_net_netG.pth")
    p.add_argument("--out", required=True, help="output generator file, NAME.weights.h5")
    p.add_argument("--discriminators", metavar="DIR",
                   help="folder with <epoch>_net_netD_PB.pth and <epoch>_net_netD_PP.pth")
    p.add_argument("--config", default="official",
                   help="official (the release), paper, tiny, or a ModelConfig JSON file")
    p.set_defaults(func=import_torch_command)
