"""Data verbs: `synth`, `make-tfrecords`, `convert-parsing`."""

from __future__ import annotations


def synth_command(args) -> int:
    from pinet_tf.datasets import synthetic

    from tqdm import tqdm

    size = synthetic.parse_size(args.size)
    bars = []  # the bar starts with the first picture, after write_dataset has checked its inputs

    def progress(n):
        if not bars:
            bars.append(tqdm(total=args.identities * args.poses_per_identity, desc="synth",
                             unit="image"))
        bars[0].update(n)

    try:
        counts = synthetic.write_dataset(args.out, args.identities, args.poses_per_identity, size,
                                         args.seed, args.test_fraction, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    for split, c in counts.items():
        print(f"{split}: {c['identities']} identities, {c['images']} images, {c['pairs']} pairs")
    print(f"wrote {args.out} ({size[0]}x{size[1]}, seed {args.seed})")
    return 0


def make_tfrecords_command(args) -> int:
    from pinet_tf.datasets import tfrecords

    manifest = tfrecords.convert(args.data, args.out, shards=args.shards,
                                 workers=args.workers, progress=True)
    for split, info in manifest["splits"].items():
        print(f"{split}: {info['pairs']} pairs in {len(info['shards'])} shard(s)")
    print(f"wrote {args.out} ({manifest['image_height']}x{manifest['image_width']})")
    return 0


def convert_parsing_command(args) -> int:
    from pinet_tf.datasets import parsing_labels

    n = parsing_labels.convert_directory(args.input, args.out, args.labels, progress=True)
    print(f"converted {n} {args.labels.upper()} label map(s) to the 12 classes in {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write a synthetic people data set (authors' layout)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--identities", type=int, default=100)
    p.add_argument("--poses-per-identity", type=int, default=4)
    p.add_argument("--size", default="256x176", help="HEIGHTxWIDTH (default 256x176)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-fraction", type=float, default=0.1,
                   help="share of identities (disjoint) put in the test split")
    p.set_defaults(func=synth_command)

    p = subparsers.add_parser("make-tfrecords",
                              help="convert a data set in the authors' layout to pair TFRecords")
    p.add_argument("--data", required=True, help="directory in the authors' (PATN) layout")
    p.add_argument("--out", required=True,
                   help="records directory to write; an earlier records directory there is "
                        "replaced whole once the new one is complete (a folder holding other "
                        "files is refused)")
    p.add_argument("--shards", type=int, default=None,
                   help="shards per split (default: one per 2000 pairs)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes writing shards in parallel (default 1)")
    p.set_defaults(func=make_tfrecords_command)

    p = subparsers.add_parser("convert-parsing",
                              help="map CIHP/LIP/ATR parser output to the 12 parsing classes")
    p.add_argument("--labels", required=True, choices=["cihp", "lip", "atr"],
                   help="label set of the parser that made the maps (CIHP and LIP: 20 labels, "
                        "differing at label 10; ATR: 18)")
    p.add_argument("--input", required=True, help="directory of single-channel label PNGs")
    p.add_argument("--out", required=True, help="output directory (e.g. DATA/trainSPL2)")
    p.set_defaults(func=convert_parsing_command)
