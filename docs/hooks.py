"""MkDocs hooks: the parts of the site that are generated from the code and the results files at
build time, so that they cannot drift from what they describe (registered in `mkdocs.yml`).

A page asks for generated text with a marker, replaced before the Markdown is rendered:

    {{ result("benchmarks/results/quality-small.json", "variants.gan.metrics.model.l1", ".3f") }}
        one value of a JSON results file (dotted keys; list items by index), formatted with an
        optional format spec (a trailing "%" in the spec multiplies by 100 as Python's "%" does)
    {{ perf_tables("benchmarks/results/cpu-2core.json") }}
        the tables of `python -m benchmarks.to_markdown` for that results file
    {{ quality_table("benchmarks/results/quality-small.json", "gan=GAN (weight 1)") }}
        the held-out table of a quality benchmark results file (and its baselines)
    {{ goals_table("benchmarks/results/quality-small.json", "gan") }}   its goals, met or not
    {{ cli_reference() }}          every verb of `pinet_tf.cli.build_parser()`, with its options
    {{ option_help("train", "--recipe") }}   the help text of one option of one verb
    {{ keypoints_table() }}        the 18 keypoints of `pinet_tf.config.KEYPOINT_NAMES`, in order
    {{ classes_table() }}          the 12 parsing classes of `pinet_tf.config.CLASS_NAMES`
    {{ include("CHANGELOG.md") }}  a file of the repository, its first heading dropped

A marker that names a missing file, key, verb or option stops the build with an error naming the
page, so `mkdocs build --strict` (tests/docs/test_site.py) fails instead of printing a stale value.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys

from mkdocs.exceptions import PluginError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_config(config):
    """The repository first on sys.path (MkDocs restores sys.path after loading this file), so
    `pinet_tf` and `benchmarks` are this checkout's, not another installed copy."""
    if sys.path[:1] != [ROOT]:
        sys.path.insert(0, ROOT)
    for name in [m for m in sys.modules if m.split(".")[0] in ("pinet_tf", "benchmarks")]:
        if not os.path.abspath(getattr(sys.modules[name], "__file__", "") or "").startswith(ROOT):
            del sys.modules[name]
    return config

MARKER = re.compile(r"\{\{\s*(\w+)\((.*?)\)\s*\}\}")


def _read_json(rel: str):
    path = os.path.join(ROOT, rel)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{rel}: cannot read it as JSON ({e})") from None


def lookup(data, key: str, source: str = "?"):
    """`data["a"]["b"][0]` for key "a.b.0"; a missing part is a ValueError naming the key."""
    value = data
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise ValueError(f"{source}: no key {key!r} (stopped at {part!r})")
    return value


def result(path: str, key: str, spec: str = "") -> str:
    value = lookup(_read_json(path), key, path)
    return format(value, spec) if spec else str(value)


def perf_tables(path: str) -> str:
    from benchmarks import to_markdown

    return to_markdown.render(_read_json(path)).rstrip("\n")


#: The quality benchmark's columns: (header, where in a variant's or baseline's entry, format,
#: which way is better: -1 lower, +1 higher, 0 neither).
QUALITY_COLUMNS = (
    ("L1", "metrics.l1", ".3f", -1), ("SSIM", "metrics.ssim", ".3f", 1),
    ("PSNR", "metrics.psnr", ".2f", 1),
    ("colour err. skin", "appearance.colour_error_skin.mean", ".1f", -1),
    ("hair", "appearance.colour_error_hair.mean", ".1f", -1),
    ("upper clothes", "appearance.colour_error_upper_clothes.mean", ".1f", -1),
    ("lower clothes", "appearance.colour_error_lower_clothes.mean", ".1f", -1),
    ("HF energy ratio", "appearance.hf_energy_ratio.mean", ".2f", 0),
    ("HF correlation", "appearance.hf_correlation.mean", ".3f", 0))
BASELINES = (("copy_source", "copy-the-source"), ("mean_image", "mean training image"))
#: Baselines and a column that results files since issue 24 have (older files: left out).
LATER_BASELINES = (("paint_by_parsing", "paint-by-parsing (model's parsing)"),
                   ("paint_by_parsing_true", "paint-by-parsing (true parsing)"),
                   ("flat_grey", "flat grey"))
PERSON_L1 = ("person L1 (0..255)", "appearance.person_l1.mean", ".1f", -1)
#: ... and results files since the person-weighted L1 (the person's complement).
BACKGROUND_L1 = ("background L1", "appearance.background_l1.mean", ".1f", -1)
#: ... and since the stray-mark count (`pinet_tf.metrics.person.stray_pixels`).
STRAY_MARKS = ("pairs with a stray mark", "appearance.stray_mark_pairs.mean", ".1%", -1)


def quality_table(path: str, *variants: str) -> str:
    """The held-out table of a `benchmarks.quality` results file: one row per variant
    ("key=label" or "key=label|paper's name"), then the baselines; the best model value of each
    column with a direction is bold."""
    data = _read_json(path)
    specs = []
    for spec in variants:
        key, _, label = spec.partition("=")
        label, _, paper = label.partition("|")
        entry = dict(lookup(data, f"variants.{key}", path))
        entry["metrics"] = lookup(entry, "metrics.model", path)
        specs.append((label or key, paper, entry))
    with_paper = any(paper for _, paper, _ in specs)
    measured = lookup(specs[0][2], "appearance", path)
    columns = tuple(c for c in (PERSON_L1, BACKGROUND_L1, STRAY_MARKS)
                    if c[1].split(".")[1] in measured) + QUALITY_COLUMNS
    baselines = BASELINES + tuple(b for b in LATER_BASELINES if b[0] in data.get("baselines", {}))
    best = {}
    for header, where, _, sign in columns:
        if sign:
            values = [lookup(e, where, path) for _, _, e in specs]
            best[header] = (min if sign < 0 else max)(values)
    header = ["variant"] + (["paper"] if with_paper else []) + [h for h, *_ in columns]
    header.append("train time")
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, paper, entry in specs:
        cells = [label] + ([paper] if with_paper else [])
        for h, where, spec, _ in columns:
            value = lookup(entry, where, path)
            text = format(value, spec)
            cells.append(f"**{text}**" if len(specs) > 1 and best.get(h) == value else text)
        seconds = lookup(entry, "train_seconds", path)  # None: trained outside the benchmark
        cells.append("not timed" if seconds is None else f"{seconds / 60:.0f} min")
        rows.append("| " + " | ".join(cells) + " |")
    for key, label in baselines:
        entry = lookup(data, f"baselines.{key}", path)
        cells = [label] + ([""] if with_paper else [])
        cells += [format(lookup(entry, where, path), spec) for _, where, spec, _ in columns]
        rows.append("| " + " | ".join(cells + [""]) + " |")
    return "\n".join(rows)


GOALS = {"l1_vs_copy_source": "L1 {rule} x copy-the-source",
         "skin_colour_error_vs_mean_image": "skin colour error {rule} x mean image",
         "upper_clothes_colour_error_vs_mean_image":
             "upper-clothes colour error {rule} x mean image",
         "hf_energy_ratio": "garment HF energy ratio {rule}",
         "hf_correlation": "garment high-pass correlation {rule}"}


def goals_table(path: str, variant: str) -> str:
    """The goals of one variant of a `benchmarks.quality` results file: goal, value, met."""
    rows = ["| goal | value | met |", "|---|---|---|"]
    for goal in lookup(_read_json(path), f"variants.{variant}.goals", path):
        text = GOALS.get(goal["goal"], goal["goal"] + " {rule}").format(rule=goal["rule"])
        suffix = " x" if goal["goal"].endswith(("copy_source", "mean_image")) else ""
        rows.append(f"| {text} | {goal['value']:.2f}{suffix} | {'yes' if goal['met'] else 'no'} |")
    return "\n".join(rows)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verbs() -> dict:
    from pinet_tf.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    return parser, {name: (p, helps.get(name, "")) for name, p in sub.choices.items()}


def _flags(action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        metavar = action.metavar or (
            "{" + ",".join(map(str, action.choices)) + "}" if action.choices
            else action.dest.upper())
        metavar = " " + metavar
    return ", ".join(f"`{o}{metavar}`" for o in action.option_strings)


def _default(action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS) or \
            action.default is False or not action.option_strings:
        return ""
    return f"`{action.default}`"


def _help(action) -> str:
    """The option's help as `--help` prints it (argparse's %(default)s etc. filled in)."""
    if not action.help:
        return ""
    params = dict(vars(action), prog="pinet-tf")
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    try:
        return action.help % params
    except (KeyError, TypeError, ValueError):
        return action.help


def _options_table(parser) -> str:
    rows = ["| option | default | what it does |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        rows.append(f"| {_cell(_flags(action))} | {_cell(_default(action))} | "
                    f"{_cell(_help(action))} |")
    return "\n".join(rows)


def cli_reference() -> str:
    parser, verbs = _verbs()
    out = [f"`{parser.prog}` {parser.description} Global options:", "", _options_table(parser)]
    out += ["", "| verb | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#{name}) | {_cell(help_)} |" for name, (_, help_) in verbs.items()]
    for name, (p, help_) in verbs.items():
        out += ["", f"## {name}", "", p.description or help_ or "", "",
                "```text", p.format_usage().strip(), "```", "", _options_table(p)]
    return "\n".join(out)


def option_help(verb: str, option: str) -> str:
    _, verbs = _verbs()
    if verb not in verbs:
        raise ValueError(f"no verb {verb!r}")
    for action in verbs[verb][0]._actions:
        if option in action.option_strings:
            return _help(action)
    raise ValueError(f"verb {verb!r} has no option {option!r}")


def keypoints_table() -> str:
    from pinet_tf.config import KEYPOINT_NAMES

    rows = ["| index | keypoint |", "|---|---|"]
    return "\n".join(rows + [f"| {i} | `{n}` |" for i, n in enumerate(KEYPOINT_NAMES)])


def classes_table() -> str:
    from pinet_tf.config import CLASS_NAMES
    from pinet_tf.utils.drawing import PARSING_PALETTE

    rows = ["| id | class | colour in pictures (RGB) |", "|---|---|---|"]
    for i, name in enumerate(CLASS_NAMES):
        r, g, b = (int(c) for c in PARSING_PALETTE[i])
        swatch = (f'<span style="display:inline-block;width:1.2em;height:1em;'
                  f'background:rgb({r},{g},{b});border:1px solid #888"></span>')
        rows.append(f"| {i} | `{name}` | {swatch} ({r}, {g}, {b}) |")
    return "\n".join(rows)


def include(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    # Links written from the repository root (docs/x.md) point from the docs folder (x.md).
    text = text.replace("](docs/", "](")
    return re.sub(r"\A# .*\n+", "", text).rstrip("\n")


FUNCTIONS = {f.__name__: f for f in (result, perf_tables, quality_table, goals_table,
                                     cli_reference, option_help, keypoints_table, classes_table,
                                     include)}


def expand(markdown: str, source: str = "page") -> str:
    """`markdown` with every marker replaced; a bad marker is a ValueError naming `source`."""
    def replace(match):
        name, args = match.group(1), match.group(2)
        if name not in FUNCTIONS:
            raise ValueError(f"{source}: unknown marker {name!r}")
        try:
            values = ast.literal_eval(f"({args},)") if args.strip() else ()
            return FUNCTIONS[name](*values)
        except (ValueError, TypeError, SyntaxError, OSError) as e:
            raise ValueError(f"{source}: {match.group(0)}: {e}") from None

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files):
    try:
        return expand(markdown, page.file.src_uri)
    except ValueError as e:
        raise PluginError(str(e)) from None
