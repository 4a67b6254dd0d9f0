"""The synthetic set on disk, in the authors' layout (`pinet_tf.datasets.patn`): identity splits,
file names, and `write_dataset`.

`write_dataset` writes the whole set into a temporary folder beside OUT and renames it into
place at the end (`pinet_tf.utils.atomic.atomic_dir`): a run that is killed or fails leaves no
half-written picture and no half set, and an earlier set at OUT stays whole until the new one is
complete. OUT may be new, empty or an earlier synthetic set (which is replaced): one that holds
`MARKER`, the file `write_dataset` writes into every set it makes. A folder without it is refused
before any work, even when it has the authors' folder names (a user's own data set in this
layout), so no file of the user's is deleted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pinet_tf.datasets.synthetic.render import sample

#: Written into every set `write_dataset` makes: only a folder holding it may be replaced.
MARKER = ".pinet-tf-synthetic.json"

@dataclass(frozen=True)
class SplitPlan:
    train_identities: tuple
    test_identities: tuple


def split_identities(identities: int, test_fraction: float) -> SplitPlan:
    """Disjoint identity ranges: the last ``ceil(test_fraction * N)`` (>= 1 when N >= 2) are test."""
    if identities < 2:
        raise ValueError(f"--identities must be >= 2 (one train, one test), got {identities}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test fraction must be in (0, 1), got {test_fraction}")
    n_test = min(max(int(np.ceil(test_fraction * identities)), 1), identities - 1)
    n_train = identities - n_test
    return SplitPlan(tuple(range(n_train)), tuple(range(n_train, identities)))


def image_name(identity: int, pose: int, view: str) -> str:
    return f"synth{identity:05d}_{pose:02d}{view}.png"


def _save_png(array, path):
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


def write_dataset(out: str, identities: int, poses_per_identity: int,
                  size: tuple = (256, 176), seed: int = 0, test_fraction: float = 0.1,
                  progress=None) -> dict:
    """Write the synthetic set in the authors' layout under `out`. Returns counts per split.

    Pairs are all ordered pairs of different poses of one identity (K*(K-1) per identity).
    """
    height, width = size
    if poses_per_identity < 2:
        raise ValueError(f"--poses-per-identity must be >= 2 to make pairs, got {poses_per_identity}")
    if height % 4 or width % 4 or height < 32 or width < 24:
        raise ValueError(f"--size must be at least 32x24 and divisible by 4, got {height}x{width}")
    plan = split_identities(identities, test_fraction)
    _check_replaceable(out)
    from pinet_tf.utils.atomic import atomic_dir

    with atomic_dir(out, replace=True) as tmp:
        counts = _write(tmp, plan, poses_per_identity, height, width, seed, progress)
        from pinet_tf.utils.paths import write_marker

        write_marker(tmp, MARKER, {"written_by": "pinet-tf synth", "seed": seed,
                                   "size": [height, width], "identities": identities,
                                   "poses_per_identity": poses_per_identity})
        return counts


def layout_entries() -> set:
    """The names a set in the authors' layout has at its top level."""
    from pinet_tf.datasets import patn

    return {name for split in patn.SPLITS for name in
            (split, split + "SPL2", patn.annotation_csv(split), patn.pairs_csv(split))}


def _check_replaceable(out: str) -> None:
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ValueError(f"--out {out}: exists and is not a folder")
    from pinet_tf.utils.paths import owned_by_us

    other = sorted(set(os.listdir(out)) - layout_entries() - {MARKER})
    if other:
        shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
        raise ValueError(f"--out {out}: holds files that are not a synthetic set ({shown}); give "
                         f"a new or empty folder, or an earlier synthetic set to replace")
    if not owned_by_us(out, MARKER):
        raise ValueError(f"--out {out}: is not a synthetic set written by pinet-tf synth (no "
                         f"{MARKER} in it), so it may be your own data; give a new or empty "
                         f"folder (synth replaces only a set it wrote)")


def _write(out, plan, poses_per_identity, height, width, seed, progress) -> dict:
    from pinet_tf.datasets import patn

    counts = {}
    for split, ids in (("train", plan.train_identities), ("test", plan.test_identities)):
        img_dir = os.path.join(out, split)
        par_dir = os.path.join(out, split + "SPL2")
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(par_dir, exist_ok=True)
        annotations, pairs = [], []
        for ident in ids:
            names = []
            for pose in range(poses_per_identity):
                image, parsing, kp, view = sample(seed, ident, pose, height, width)
                name = image_name(ident, pose, view)
                _save_png(image, os.path.join(img_dir, name))
                _save_png(parsing, os.path.join(par_dir, os.path.splitext(name)[0] + ".png"))
                annotations.append((name, kp))
                names.append(name)
                if progress:
                    progress(1)
            pairs += [(a, b) for a in names for b in names if a != b]
        patn.write_annotations(os.path.join(out, patn.annotation_csv(split)), annotations)
        patn.write_pairs(os.path.join(out, patn.pairs_csv(split)), pairs)
        counts[split] = {"identities": len(ids), "images": len(annotations), "pairs": len(pairs)}
    return counts


def parse_size(text: str) -> tuple:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 256x176 (HEIGHTxWIDTH), got {text!r}") from None
    return h, w

