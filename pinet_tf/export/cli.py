"""Export verbs: `pinet-tf import-torch`, `pinet-tf export` (versioned SavedModel) and
`pinet-tf export-tflite`.

`import-torch`: the authors' `.pth` checkpoints -> our `.weights.h5` files.

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


def import_torch_command(args) -> int:
    from pinet_tf.config import resolve_config
    from pinet_tf.export.torch_import import import_discriminators, import_generator
    from pinet_tf.models.io import discriminator_weights_paths, sidecar_config_path

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
    outputs += zip(discriminators, d_paths or (), discriminator_weights_paths(args.out))
    with contextlib.ExitStack() as stack:
        for model, _, dst in outputs:
            model.save_weights(stack.enter_context(atomic_path(dst, suffix=".weights.h5")))
        cfg.save(stack.enter_context(atomic_path(sidecar_config_path(args.out))))
    n = sum(int(w.numpy().size) for w in generator.weights)
    print(f"generator: {args.ckpt} -> {args.out} (config {cfg.name!r}, {n:,d} values)")
    for model, src, dst in outputs[1:]:
        print(f"{model.name}: {src} -> {dst}")
    return 0


def export_command(args) -> int:
    from pinet_tf.export.savedmodel import check_version, export_from_source

    if (args.run is None) == (args.weights is None):
        raise ValueError("pass exactly one of --run RUN_DIR or --weights FILE")
    version = check_version(args.version)
    path = export_from_source(args.run or args.weights, args.out, args.config, version)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    print(f"exported {path} ({size / 1e6:.1f} MB); serve it with: pinet-tf serve "
          f"--model-base-path {os.path.abspath(args.out)}")
    return 0


def export_tflite_command(args) -> int:
    if args.calibration_samples < 1:
        raise ValueError(f"--calibration-samples must be >= 1, got {args.calibration_samples}")
    if args.quantize == "int8":  # calibration runs the float model in the LiteRT interpreter
        from pinet_tf.utils.extras import require_extra
        require_extra("export-tflite --quantize int8", "tflite", "ai_edge_litert.interpreter")
    from pinet_tf.export.tflite import convert_to_file
    from pinet_tf.utils.startup import quiet_litert

    with quiet_litert():  # the converter's and LiteRT's start-up lines, as for TensorFlow's
        size = convert_to_file(args.saved_model, args.out, args.quantize,
                               calibration_samples=args.calibration_samples,
                               signature=args.signature)
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, quantize {args.quantize})")
    return 0


def register(subparsers) -> None:
    from pinet_tf.config import PRESETS  # light: no TensorFlow

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

    p = subparsers.add_parser(
        "export", help="write a versioned SavedModel (BASE/<version>/) for TF-Serving")
    p.add_argument("--run", help="run directory (config.json + generator.weights.h5)")
    p.add_argument("--weights", help="a .weights.h5 file (config from its .config.json sidecar "
                                     "or --config)")
    p.add_argument("--config", metavar="NAME|FILE",
                   help=f"model preset ({', '.join(PRESETS)}) or a config JSON file "
                        "(default: the one stored with the weights)")
    p.add_argument("--out", required=True, help="model base path BASE")
    p.add_argument("--version", help="version number, 1..2^63-1 (default: next free)")
    p.set_defaults(func=export_command)

    p = subparsers.add_parser("export-tflite", help="convert an export to TFLite")
    p.add_argument("--saved-model", required=True, help="an export's version folder BASE/<N>")
    p.add_argument("--quantize", default="none",
                   choices=["none", "float16", "dynamic-int8", "int8"])
    p.add_argument("--out", required=True, help="output .tflite file")
    p.add_argument("--signature", default="serving_default",
                   help="signature to convert (serving_default or texture_transfer)")
    p.add_argument("--calibration-samples", type=int, default=32,
                   help="synthetic samples for int8 calibration")
    p.set_defaults(func=export_tflite_command)