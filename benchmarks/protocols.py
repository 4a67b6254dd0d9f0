"""How much the scoring protocol alone moves the numbers: one set of results, every protocol.

    python -m benchmarks.protocols --work /tmp/protocols        # ~2 min on 2 cores

The results are the built-in demo model's (pinet_tf/inference/demo/, 128x88) on held-out
synthetic pairs it never saw (a fresh synthetic set, seed 26: other people than its training
set's), written as PNG folders and scored by `pinet_tf.evaluation.scoring.score` under each
protocol of `pinet_tf.evaluation.protocols` with downloads off (a metric whose network weights
are not on this machine is marked so). Writes benchmarks/results/protocols.json and the table
docs/results/protocols.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from pinet_tf.utils.atomic import write_json, write_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDENTITIES, POSES, SEED = 40, 3, 26
COLUMNS = ("ssim", "ssim_256", "l1", "psnr", "lpips", "fid", "is")


def _save(folder, images, names) -> None:
    from pinet_tf.utils.drawing import save_png_atomic

    os.makedirs(folder, exist_ok=True)
    for im, n in zip(images, names):
        save_png_atomic(os.path.join(folder, n), im)


def make_results(work: str) -> dict:
    """Held-out pairs, the demo model's outputs and the training targets as PNG folders."""
    from pinet_tf import datasets
    from pinet_tf.inference.demo import load_demo_predictor
    from pinet_tf.models.encoding import float_to_uint8

    predictor = load_demo_predictor()
    cfg = predictor.config
    records = datasets.prepare_synthetic(os.path.join(work, "data"), cfg, IDENTITIES, POSES,
                                         SEED, test_fraction=0.25)
    folders = {k: os.path.join(work, k) for k in ("generated", "real", "train")}
    count = 0
    for b in datasets.make_dataset(records, "test", cfg, 16, training=False):
        src = float_to_uint8(b["source_image"]).numpy()
        gen, _ = predictor.transfer(src, b["source_parsing"].numpy(),
                                    b["source_keypoints"].numpy(), b["target_keypoints"].numpy())
        names = [f"{count + i:04d}.png" for i in range(len(src))]
        _save(folders["generated"], np.asarray(gen, np.uint8), names)
        _save(folders["real"], float_to_uint8(b["target_image"]).numpy(), names)
        count += len(src)
    train = 0
    for b in datasets.make_dataset(records, "train", cfg, 32, training=False):
        tgt = float_to_uint8(b["target_image"]).numpy()
        _save(folders["train"], tgt, [f"t{train + i:05d}.png" for i in range(len(tgt))])
        train += len(tgt)
    return {"folders": folders, "pairs": count, "train_images": train,
            "size": list(cfg.image_size)}


def markdown(out: dict) -> str:
    def cell(name, k):
        r = out["protocols"][name]
        v = r["metrics"][k]
        if v is not None:
            return f"{v:.4f}" if isinstance(v, float) and abs(v) < 100 else str(v)
        if k not in r["skipped"]:
            return "—"
        return "not ported" if "not ported" in r["skipped"][k] else "no weights offline"

    lines = [
        "# One set of results, five scoring protocols", "",
        "At the end of this page you know how far the choice of evaluation script alone moves "
        "pose-transfer scores, on one fixed set of results. Regenerate it with "
        "`python -m benchmarks.protocols --work out/protocols`.", "",
        f"Results: the built-in demo model (`pinet_tf/inference/demo/`, "
        f"{out['size'][0]}x{out['size'][1]}) on {out['pairs']} held-out pairs of a fresh "
        f"synthetic set (seed {SEED}, people it never saw); FID real set: "
        f"{out['train_images']} training targets of that set. Scored with "
        "`pinet-tf score --protocol P` with downloads off on "
        f"{out['conditions']['date']}: \"no weights offline\" marks a metric whose network "
        "weights were not on the machine, \"not ported\" one whose feature extractor pinet-tf "
        "has no port of yet (the peers' PyTorch Inception networks, the TF1 graph of the "
        "original IS code), \"—\" a number the peer's script does not compute.", "",
        "| protocol | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name in out["protocols"]:
        lines.append(f"| `{name}` | " + " | ".join(cell(name, k) for k in COLUMNS) + " |")
    spread = out["ssim_spread"]
    lines += ["", f"The same pictures score SSIM from {spread['min']:.4f} to {spread['max']:.4f} "
              "depending only on the script: padding with white columns (PATN), the window "
              "(an 11-pixel Gaussian or a 51-pixel uniform one), the data range (1, 255 or the "
              "generated image's own max - min) and resizing (CFLD scores at 256x176). "
              "L1 is on [-1, 1] for PATN (twice GFLA's [0, 1] value, and the padding dilutes "
              "it), on [0, 1] for GFLA, PIDM and pinet.", "",
              "Each protocol's recipe, step by step with the peer file it follows, is in "
              "[the evaluation guide](../guides/evaluation.md#protocols).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.protocols",
                                description=__doc__.split("\n")[0])
    p.add_argument("--work", required=True, help="folder for the data and the PNG folders")
    p.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                     "protocols.json"))
    p.add_argument("--page", default=os.path.join(ROOT, "docs", "results", "protocols.md"))
    args = p.parse_args(argv)
    from pinet_tf.evaluation.protocols import PROTOCOLS
    from pinet_tf.evaluation.scoring import score

    made = make_results(args.work)
    f = made["folders"]
    out = {"pairs": made["pairs"], "train_images": made["train_images"], "size": made["size"],
           "conditions": {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                          "downloads": "off"},
           "protocols": {}}
    for name in PROTOCOLS:
        r = score(name, f["generated"], f["real"], os.path.join(args.work, f"{name}.json"),
                  real_set=f["train"], allow_download=False, progress=False)
        out["protocols"][name] = {k: r[k] for k in ("follows", "metrics", "skipped")}
    values = [r["metrics"]["ssim"] for r in out["protocols"].values()]
    out["ssim_spread"] = {"min": min(values), "max": max(values)}
    write_json(args.results, out)
    write_text(args.page, markdown(out))
    print(f"wrote {args.results} and {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
