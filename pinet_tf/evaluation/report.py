"""The evaluation report: the JSON record (results, protocol, weights), a Markdown page and a
best/worst pairs grid, each written atomically."""

from __future__ import annotations

import os

import numpy as np

from pinet_tf.evaluation import baselines
from pinet_tf.metrics.standard import DEFINITION as STANDARD
from pinet_tf.utils.atomic import write_json, write_text

LABELS = {"l1": "L1", "ssim": "SSIM", "psnr": "PSNR (dB)", "lpips": "LPIPS", "fid": "FID",
          "is": "IS", "person_l1": "person L1 (0..255)",
          "colour_error_skin": "skin colour err", "colour_error_hair": "hair colour err",
          "colour_error_upper_clothes": "upper colour err",
          "colour_error_lower_clothes": "lower colour err"}
#: metric -> True when higher is better.
HIGHER_IS_BETTER = {"l1": False, "ssim": True, "psnr": True, "lpips": False, "fid": False,
                    "is": True, "person_l1": False, "colour_error_skin": False,
                    "colour_error_hair": False, "colour_error_upper_clothes": False,
                    "colour_error_lower_clothes": False}
#: `beats_baselines`: the baselines that know nothing of the pose or the parsing.
NAIVE = (baselines.COPY_SOURCE, baselines.MEAN_IMAGE)


def write_grid(path, best_rows, worst_rows) -> None:
    """Rows (l1, index, file, source, target, generated): best pairs on the left (source, target,
    output), worst on the right, best/worst first, separated by a blank column."""
    from pinet_tf.utils.drawing import image_grid, save_png_atomic

    if not best_rows:
        return
    h, w = best_rows[0][3].shape[:2]
    gap = np.full((h, 8, 3), 255, np.uint8)
    rows = [[b[3], b[4], b[5], gap, x[3], x[4], x[5]] for b, x in zip(best_rows, worst_rows)]
    grid = image_grid(rows, titles=["best: source", "target", "output", "", "worst: source",
                                    "target", "output"])
    save_png_atomic(path, grid)


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}")


def markdown(report: dict) -> str:
    metrics = report["metrics"]
    names = [k for k in LABELS if k in metrics["model"]]
    up = report["higher_is_better"]
    lines = ["# pinet-tf evaluation", "",
             f"Model: `{report['model']['path']}` ({report['model']['kind']}, config "
             f"`{report['model']['config'].get('name')}`); data: `{report['data']['path']}` split "
             f"`{report['data']['split']}`, {report['protocol']['pairs']} of "
             f"{report['data']['pairs_in_split']} pairs.", "",
             "| method | " + " | ".join(f"{LABELS[k]} {'↑' if up[k] else '↓'}" for k in names)
             + " |",
             "|---" * (len(names) + 1) + "|"]
    for method, vals in metrics.items():
        cells = []
        for k in names:
            cell = _fmt(vals.get(k))
            if k == "is" and "is_std" in vals:
                cell += f" ± {vals['is_std']:.3f}"
            cells.append(cell)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    beats, paint = report["beats_baselines"], report["beats_paint_by_parsing"]
    lines += ["", "Model beats copy-the-source and the mean image on: "
              + (", ".join(LABELS[k] for k in names if beats.get(k)) or "nothing") + ".",
              "Model beats paint-by-parsing (its own predicted parsing, when it has one, and the "
              "true one) on: "
              + (", ".join(LABELS[k] for k in names if paint.get(k)) or "nothing") + ".", "",
              "## Protocol", ""]
    for k, v in report["protocol"].items():
        if isinstance(v, dict):
            v = "; ".join(f"{a}: {b}" for a, b in v.items())
        lines.append(f"- **{k}**: {v}")
    lines += ["", "## Weights", ""]
    if report["weights"]:
        lines += ["| role | file | sha256 |", "|---|---|---|"]
        lines += [f"| {w['role']} | `{w['path']}` | `{w['sha256']}` |" for w in report["weights"]]
    else:
        lines.append("No network weights were available: only L1, SSIM and PSNR were computed.")
    if report["skipped"]:
        lines += ["", "## Skipped metrics", ""]
        lines += [f"- **{LABELS.get(k, k)}**: {v}" for k, v in report["skipped"].items()]
    if report["files"]["grid"]:
        lines += ["", "## Best and worst pairs by L1", "",
                  f"![best and worst pairs]({os.path.basename(report['files']['grid'])})", "",
                  "Left block: the best pairs (source, target, output); right block: the worst."]
    lines.append("")
    return "\n".join(lines)


def protocol(ev, lpips_net) -> dict:
    """How the numbers were made: sizes, resizing, formats, each metric's recipe, baselines."""
    from pinet_tf.evaluation.networks import IS_SPLITS
    from pinet_tf.metrics.inception import RESIZE_METHOD

    record_size = (int(ev.manifest["image_height"]), int(ev.manifest["image_width"]))
    return {
        "pairs": ev.count,
        "image_size": list(ev.cfg.image_size),
        "record_size": list(record_size),
        "resize_method": "none (records are at the model size)"
        if record_size == tuple(ev.cfg.image_size) else
        f"records {record_size[0]}x{record_size[1]} resized to the model size by the data "
        "pipeline: bilinear for images (rounded to uint8), nearest for parsing",
        "file_format": "PNG (lossless, 8-bit RGB) at the model size; every metric is "
                       "computed on these uint8 images",
        "generated_images": os.path.abspath(ev.images_dir),
        **{k: STANDARD[k] for k in ("l1", "psnr", "ssim")},
        "lpips": f"LPIPS v0.1, {lpips_net} backbone, inputs in [-1, 1], averaged over pairs",
        "fid_real_set": f"the {ev.count} target images of the evaluated pairs",
        "inception_resize": RESIZE_METHOD,
        "inception_weights": "Keras InceptionV3 (TF2 ImageNet weights), not the TF1 graph "
                             "of the published FID/IS code: numbers not comparable to "
                             "papers",
        "is_splits": IS_SPLITS,
        "person_l1": "mean |generated - target| in 0..255 over the pixels whose true target "
                     "class is not background, averaged over pairs",
        "colour_errors": "per region (skin, hair, upper/lower clothes of the true target "
                         "parsing): distance in 0..255 RGB between the mean colours of result "
                         "and target, averaged over the pairs that have the region",
        "baselines": {m: baselines.DESCRIPTIONS[m].format(n=ev.mean.count, split=ev.mean_split)
                      for m in ev.methods if m in baselines.DESCRIPTIONS},
    }


def _beats(methods: dict, against) -> dict:
    """metric -> whether the model is better than every method of `against` that was run."""
    model = methods["model"]
    others = [m for m in against if m in methods]
    return {k: all((model[k] > methods[m][k]) if up else (model[k] < methods[m][k])
                   for m in others if k in methods[m])
            for k, up in HIGHER_IS_BETTER.items() if k in model}


def write_report(out, ev, methods: dict, model_info: dict, lpips_net: str) -> dict:
    """Write `out` (JSON), its .md page and (unless the grid is empty) the best/worst grid of
    the finished Evaluator `ev`; return the report dict."""
    from pinet_tf.utils.weights import sha256_file

    model = methods["model"]
    stem = os.path.splitext(os.path.abspath(out))[0]
    best_rows, worst_rows = ev.extremes.rows()
    grid_path = f"{stem}_best_worst.png" if best_rows else None
    if grid_path:
        write_grid(grid_path, best_rows, worst_rows)
    report = {
        "model": {**model_info, "config": ev.cfg.to_dict(),
                  "seconds_per_pair": ev.gen_seconds / max(ev.count, 1)},
        "data": {"path": os.path.abspath(ev.data), "split": ev.split,
                 "pairs_in_split": int(ev.manifest["splits"][ev.split]["pairs"])},
        "protocol": protocol(ev, lpips_net),
        "weights": [{"role": role, "path": os.path.abspath(p), "sha256": sha256_file(p)}
                    for role, p in ev.nets.files],
        "metrics": methods,
        "higher_is_better": {k: v for k, v in HIGHER_IS_BETTER.items() if k in model},
        "skipped": ev.nets.skipped,
        "beats_baselines": _beats(methods, NAIVE),
        "beats_paint_by_parsing": _beats(methods, (baselines.PAINT, baselines.PAINT_TRUE)),
        "best_pairs_by_l1": [{"file": r[2], "l1": r[0]} for r in best_rows],
        "worst_pairs_by_l1": [{"file": r[2], "l1": r[0]} for r in worst_rows],
        "files": {"markdown": f"{stem}.md", "grid": grid_path},
    }
    if ev.protocol_report is not None:
        p = ev.protocol_report
        report["protocol_scores"] = {"protocol": p["protocol"], "follows": p["follows"],
                                     "metrics": p["metrics"], "skipped": p["skipped"],
                                     "file": f"{stem}_{p['protocol']}.json"}
    write_json(out, report, sort_keys=False)
    write_text(report["files"]["markdown"], markdown(report))
    return report


def _number(v):
    """A mean for JSON: a float, or the string "inf" (a PSNR of identical images)."""
    v = float(v)
    return v if np.isfinite(v) else ("inf" if v > 0 else "-inf")


def score_metrics(protocol, streams, nets) -> dict:
    """The report's `metrics`: every name of protocols.METRICS, None where the peer's script
    has no such number or it was skipped."""
    from pinet_tf.metrics.fid import frechet_distance

    out = {k: None for k in ("ssim", "ssim_256", "l1", "psnr", "lpips", "fid", "is")}
    for k, parts in streams.values.items():
        out[k] = _number(np.concatenate(parts).mean())
    if streams.fid is not None and streams.fid["real"].count > 1 \
            and streams.fid["fake"].count > 1:
        out["fid"] = frechet_distance(*streams.fid["real"].mean_cov(),
                                      *streams.fid["fake"].mean_cov())
    if streams.istat is not None:
        if streams.istat.seen >= streams.istat.splits:
            out["is"], out["is_std"] = streams.istat.result()
        else:
            nets.skipped["is"] = f"needs at least {streams.istat.splits} images"
    return out


def write_score_report(out, protocol, streams, n, size, paths, used, nets, real_count) -> dict:
    """Write the JSON report of `pinet-tf score` (atomically) and a .md beside it."""
    from pinet_tf.utils.weights import sha256_file

    metrics = score_metrics(protocol, streams, nets)
    generated, real, real_set = paths
    report = {
        "protocol": protocol.name,
        "peer": protocol.peer,
        "follows": protocol.source,
        "steps": [{"step": a, "what": b, "peer_code": c} for a, b, c in protocol.steps],
        "pairs": n,
        "image_size": list(size),
        "generated": os.path.abspath(generated),
        "real": os.path.abspath(real),
        "real_set": os.path.abspath(real_set) if real_set else None,
        "real_set_images": real_count,
        "images_scored": {k: v for k, v in used.items() if v},
        "metrics": metrics,
        "not_in_protocol": [k for k in ("ssim", "ssim_256", "l1", "psnr", "lpips", "fid", "is")
                            if metrics[k] is None and k not in nets.skipped],
        "skipped": dict(nets.skipped),
        "weights": [{"role": role, "path": os.path.abspath(p), "sha256": sha256_file(p)}
                    for role, p in nets.files],
    }
    write_json(out, report, sort_keys=False)
    lines = [f"# pinet-tf score: protocol `{protocol.name}`, {protocol.peer}", "",
             f"{n} pairs of {size[0]}x{size[1]} images; recipe of `{protocol.source}`.", "",
             "| metric | value |", "|---|---|"]
    for k, v in metrics.items():
        if v is not None:
            lines.append(f"| {k} | {_fmt(v) if isinstance(v, float) else v} |")
    lines += ["", "## Recipe", ""] + [f"- **{a}**: {b} (`{c}`)" for a, b, c in protocol.steps]
    if report["skipped"]:
        lines += ["", "## Skipped", ""] + [f"- {k}: {v}" for k, v in report["skipped"].items()]
    write_text(os.path.splitext(out)[0] + ".md", "\n".join(lines) + "\n")
    return report
