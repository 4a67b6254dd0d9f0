"""The documentation site builds with `mkdocs build --strict`, and what it generates is right.

The build runs into a temporary folder; strict mode (mkdocs.yml: `strict`, `validation`) turns
a broken link, a missing anchor, a nav entry without its page, a page left out of the nav and a
marker of docs/hooks.py that names a missing file, key, verb or option into a failed build.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.docs.runnable import ROOT

ENV = dict(os.environ, NO_MKDOCS_2_WARNING="1",
           PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", os.path.join(ROOT, "docs",
                                                                             "hooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(config_file, site_dir):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(config_file), "-d", str(site_dir)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)


def test_site_builds_strict(tmp_path):
    proc = _build(os.path.join(ROOT, "mkdocs.yml"), tmp_path / "site")
    assert proc.returncode == 0, proc.stderr[-4000:]
    site = tmp_path / "site"
    cli = (site / "reference" / "cli" / "index.html").read_text()
    from pinet_tf.cli import build_parser

    verbs = next(a for a in build_parser()._actions if a.dest == "command").choices
    for verb in verbs:                          # every verb has its section, generated
        assert f'id="{verb}"' in cli, verb
    for page in site.rglob("*.html"):           # no marker left unexpanded
        assert "{{ " not in page.read_text(errors="replace"), page
    api = (site / "reference" / "api" / "config" / "index.html").read_text()
    assert "ModelConfig" in api                 # the API reference comes from the docstrings


@pytest.fixture
def small_site(tmp_path):
    """A copy of mkdocs.yml (same theme, validation and hooks) over a one-page docs folder."""
    with open(os.path.join(ROOT, "mkdocs.yml")) as f:
        config = yaml.safe_load(f)
    docs = tmp_path / "docs"
    docs.mkdir()
    config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}], exclude_docs="",
                  plugins=["search"], hooks=[os.path.join(ROOT, "docs", "hooks.py")])
    config_file = tmp_path / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config))

    def build(page_text, extra_pages=()):
        (docs / "index.md").write_text(page_text)
        for name in extra_pages:
            (docs / name).write_text("# extra\n")
        return _build(config_file, tmp_path / "site")

    return build


def test_strict_build_fails_on_a_broken_link_or_a_page_missing_from_the_nav(small_site):
    good = small_site("# Home\n\nSee [the top](#home).\n")
    assert good.returncode == 0, good.stderr
    # Strict mode reports every warning of the build before it stops: one build shows all three.
    bad = small_site("# Home\n\nSee [the guide](guides/nowhere.md) and [a section]"
                     "(#no-such-section).\n", extra_pages=["orphan.md"])
    assert bad.returncode != 0
    for named in ("guides/nowhere.md", "no-such-section", "orphan.md"):
        assert named in bad.stderr, (named, bad.stderr)


def test_strict_build_fails_on_a_figure_its_results_file_does_not_have(small_site):
    marker = '{{ result("benchmarks/results/quality-small.json", "variants.gan.nothing") }}'
    proc = small_site(f"# Home\n\nL1 {marker}.\n")
    assert proc.returncode != 0
    assert "index.md" in proc.stderr and "variants.gan.nothing" in proc.stderr


def test_markers_read_the_files_and_the_code():
    hooks = _hooks()
    import json

    with open(os.path.join(ROOT, "benchmarks", "results", "quality-small.json")) as f:
        quality = json.load(f)
    l1 = quality["variants"]["gan"]["metrics"]["model"]["l1"]
    text = hooks.expand('L1 {{ result("benchmarks/results/quality-small.json", '
                        '"variants.gan.metrics.model.l1", ".3f") }}, goal '
                        '{{ result("benchmarks/results/quality-small.json", '
                        '"variants.gan.goals.0.rule") }}')
    assert text == f"L1 {l1:.3f}, goal {quality['variants']['gan']['goals'][0]['rule']}"
    with pytest.raises(ValueError, match="unknown marker 'nope'"):
        hooks.expand("{{ nope() }}", "x.md")
    from pinet_tf.config import CLASS_NAMES, KEYPOINT_NAMES

    rows = hooks.keypoints_table().splitlines()[2:]
    assert rows == [f"| {i} | `{n}` |" for i, n in enumerate(KEYPOINT_NAMES)] and len(rows) == 18
    classes = hooks.classes_table().splitlines()[2:]
    assert [r.split(" | ")[1] for r in classes] == [f"`{n}`" for n in CLASS_NAMES]
    table = hooks.quality_table("benchmarks/results/quality-small.json", "gan=GAN")
    assert f"| GAN | {l1:.3f} |" in table and "| copy-the-source |" in table
    from benchmarks import to_markdown

    with open(os.path.join(ROOT, "benchmarks", "results", "cpu-2core.json")) as f:
        assert hooks.perf_tables("benchmarks/results/cpu-2core.json") == \
            to_markdown.render(json.load(f)).rstrip("\n")


def _words(text):
    return " ".join(text.split())


def test_train_help_and_the_docs_agree_on_the_quick_start_duration():
    hooks = _hooks()
    help_text = hooks.option_help("train", "--recipe")
    minutes = re.search(r"about (\d+) min of training on 2 CPU cores", help_text)
    assert minutes, help_text
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = _words(f.read())
    assert f"about {minutes.group(1)} minutes of training on 2 CPU cores" in readme
    with open(os.path.join(ROOT, "docs", "guides", "training.md"), encoding="utf-8") as f:
        assert '{{ option_help("train", "--recipe") }}' in f.read()   # quoted, not copied
    with pytest.raises(ValueError, match="no option '--nope'"):
        hooks.option_help("train", "--nope")
