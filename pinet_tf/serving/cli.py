"""`pinet-tf serve` (gRPC/REST server of an export) and `pinet-tf client` (one pose transfer)."""

from __future__ import annotations

import logging
import os
import signal


SERVING_MODULES = ("grpc", "tensorflow_serving.apis.prediction_service_pb2_grpc")


def serve_command(args) -> int:
    from pinet_tf.utils.extras import require_extra
    require_extra("serve", "serving", *SERVING_MODULES)
    from pinet_tf.serving.server import ModelServer

    # Every argument is checked here, before the model is loaded.
    server = ModelServer(args.model_base_path, args.model_name, port=args.port, host=args.host,
                         rest_port=args.rest_port, poll_seconds=args.poll_seconds,
                         max_workers=args.max_workers,
                         max_concurrent_rpcs=args.max_concurrent_rpcs,
                         max_message_bytes=args.max_message_mb * 1024 * 1024,
                         max_batch_size=args.max_batch_size,
                         read_timeout_s=args.read_timeout)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)
        server.stop(grace=args.grace_seconds)  # finishes in-flight requests, then returns

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        print(f"serving model {server.model_name!r} from {server.manager.base_path} on "
              f"{args.host}:{server.port}" + (f", REST port {server.rest_port}"
                                               if args.rest_port is not None else ""), flush=True)
        while not server.wait(timeout=1.0):
            pass
    finally:
        server.stop(grace=args.grace_seconds)  # no-op when a signal already stopped it
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped ({signal.Signals(stopping[0]).name if stopping else 'stop'})", flush=True)
    return 0


def _read_parsing(path: str):
    """The shared label-map reader (`utils.readers.read_label_map`), classes 0..11."""
    import numpy as np

    from pinet_tf.config import NUM_CLASSES
    from pinet_tf.utils.drawing import PARSING_PALETTE
    from pinet_tf.utils.readers import read_label_map

    labels = read_label_map(path, "source parsing", palette=PARSING_PALETTE)
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"{path}: label {labels.max()} is not a parsing class "
                         f"(0..{NUM_CLASSES - 1})")
    return labels.astype(np.uint8)


def client_command(args) -> int:
    from pinet_tf.utils.extras import require_extra
    require_extra("client", "serving", *SERVING_MODULES)
    from pinet_tf.serving.client import PoseTransferClient
    from pinet_tf.serving.core import DEFAULT_SIGNATURE
    from pinet_tf.utils.drawing import save_png_atomic
    from pinet_tf.utils.keypoint_files import read_keypoints
    from pinet_tf.utils.readers import check_writable, read_image

    for flag, path in (("--out", args.out), ("--out-parsing", args.out_parsing)):
        if path is not None:
            if not path.lower().endswith(".png"):
                raise ValueError(f"{flag} must name a .png file, got {path!r}")
            check_writable(path, "output picture")
    image = read_image(args.source, "source image")
    parsing = _read_parsing(args.source_parsing) if args.source_parsing else None
    source_kp = read_keypoints(args.source_keypoints, args.min_confidence, args.person,
                               "--person")
    target_kp = read_keypoints(args.target_keypoints, args.min_confidence, args.target_person,
                               "--target-person")
    import grpc
    with PoseTransferClient(args.server, args.model_name, timeout=args.timeout) as c:
        try:
            expected = c.metadata()["signatures"][DEFAULT_SIGNATURE]["inputs"]
            h, w = expected["source_image"][1][1:3]
            # A one-stage model (stages=1) takes no source_parsing (and returns no parsing).
            wants_parsing = "source_parsing" in expected
            if wants_parsing and parsing is None:
                raise ValueError("--source-parsing is needed: the served model takes a "
                                 "source_parsing")
            if args.out_parsing and not wants_parsing:
                raise ValueError("--out-parsing: the served model has stages=1 and returns no "
                                 "parsing")
            if image.shape[:2] != (h, w) or (wants_parsing and parsing.shape != (h, w)):
                raise ValueError(f"the model takes {h}x{w} images; {args.source} is "
                                 f"{image.shape[0]}x{image.shape[1]}" + (
                                     f" and {args.source_parsing} is {parsing.shape[0]}x"
                                     f"{parsing.shape[1]}" if wants_parsing else ""))
            inputs = dict(source_image=image[None], source_keypoints=source_kp[None],
                          target_keypoints=target_kp[None])
            if wants_parsing:
                inputs["source_parsing"] = parsing[None]
            out = c.predict(**inputs)
        except grpc.RpcError as e:
            raise ValueError(f"server {args.server}: {e.code().name}: {e.details()}") from e
    save_png_atomic(args.out, out["image"][0])
    print(f"wrote {args.out}")
    if args.out_parsing:
        save_png_atomic(args.out_parsing, out["parsing"][0])
        print(f"wrote {args.out_parsing}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve an export over gRPC (TF-Serving API)")
    p.add_argument("--model-base-path", required=True, help="BASE holding <version>/ folders")
    p.add_argument("--model-name", help="name clients use (default: BASE's folder name)")
    p.add_argument("--port", type=int, default=8500, help="gRPC port (0 = any free one)")
    p.add_argument("--rest-port", type=int, help="also serve TF-Serving's REST API here")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; "
                        "0.0.0.0 = every interface, only behind a trusted network: the "
                        "server has no authentication)")
    p.add_argument("--poll-seconds", type=float, default=2.0,
                   help="how often to look for a new version")
    p.add_argument("--max-workers", type=int, default=8, help="request threads")
    p.add_argument("--max-concurrent-rpcs", type=int, default=32,
                   help="RPCs admitted at once (RESOURCE_EXHAUSTED beyond)")
    p.add_argument("--max-message-mb", type=int, default=64, help="largest request, MiB")
    p.add_argument("--max-batch-size", type=int, default=16)
    p.add_argument("--read-timeout", type=float, default=10.0,
                   help="REST: seconds a whole request (headers and body) may take to arrive")
    p.add_argument("--grace-seconds", type=float, default=10.0,
                   help="on SIGTERM, time given to in-flight requests")
    p.set_defaults(func=serve_command)

    from pinet_tf.utils.keypoint_files import DEFAULT_MIN_CONFIDENCE, FORMATS_HELP

    p = subparsers.add_parser("client", help="one pose transfer through a gRPC server")
    p.add_argument("--server", required=True, help="HOST:PORT")
    p.add_argument("--model-name", default="pinet")
    p.add_argument("--source", required=True, help="source image (PNG/JPEG, the model's size)")
    p.add_argument("--source-keypoints", required=True,
                   help=f"the source's keypoints in its frame: {FORMATS_HELP}")
    p.add_argument("--source-parsing", help="label PNG, classes 0..11 (not for a one-stage "
                   "model, stages=1)")
    p.add_argument("--target-keypoints", required=True,
                   help="the target pose in the source's frame, same formats")
    p.add_argument("--person", type=int, default=None, metavar="N",
                   help="which person of a source keypoint file holding several (OpenPose "
                        "'people', COCO entries); default: the first, with a warning")
    p.add_argument("--target-person", type=int, default=None, metavar="N",
                   help="which person of a target keypoint file holding several")
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help="keypoints with a lower confidence count as missing "
                        "(default: %(default)s)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--out-parsing", help="also write the predicted target parsing (label PNG)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=client_command)
