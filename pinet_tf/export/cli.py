"""`pinet-tf export` (versioned SavedModel) and `pinet-tf export-tflite`."""

import os


def export_command(args) -> int:
    from pinet_tf.export.savedmodel import export_from_source

    if (args.run is None) == (args.weights is None):
        raise ValueError("pass exactly one of --run RUN_DIR or --weights FILE")
    if args.version is not None and args.version < 1:
        raise ValueError(f"--version must be >= 1, got {args.version}")
    path = export_from_source(args.run or args.weights, args.out, args.config, args.version)
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

    size = convert_to_file(args.saved_model, args.out, args.quantize,
                           calibration_samples=args.calibration_samples,
                           signature=args.signature)
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, quantize {args.quantize})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a versioned SavedModel (BASE/<version>/) for TF-Serving")
    p.add_argument("--run", help="run directory (config.json + generator.weights.h5)")
    p.add_argument("--weights", help="a .weights.h5 file (config from its .config.json sidecar "
                                     "or --config)")
    p.add_argument("--config", choices=["official", "paper", "tiny"],
                   help="model config preset (default: the one stored with the weights)")
    p.add_argument("--out", required=True, help="model base path BASE")
    p.add_argument("--version", type=int, help="version number (default: next free)")
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
