"""Human-parser output (CIHP or LIP, 20 labels; ATR, 18 labels) -> PINet's 12 parsing classes.

PINet's parsing maps come from an off-the-shelf parser (the authors point users to CIHP_PGN and
say they "re-organize the label of human parsing map", Zhangjinso/PINet_PG issue #2). The 12 class
ids are `pinet_tf.config.CLASS_NAMES`. The source label lists are public:

* CIHP (Crowd Instance-level Human Parsing; the CIHP_PGN parser), class definition of the LIP/CIHP
  challenge page (sysu-hcp.net/lip/mparsing_challenge.php);
* LIP (Look Into Person; JPPNet, SCHP's "lip" model), label list of the LIP benchmark / SCHP;
* ATR (Liang et al., "Deep Human Parsing with Active Template Regression"; SCHP's "atr" model,
  `simple_extractor.py --dataset atr`), 18 labels in SCHP's order:

      0 background, 1 hat, 2 hair, 3 sunglasses, 4 upper-clothes, 5 skirt, 6 pants, 7 dress,
      8 belt, 9 left-shoe, 10 right-shoe, 11 face, 12 left-leg, 13 right-leg, 14 left-arm,
      15 right-arm, 16 bag, 17 scarf

  grouped by name like the other two; ATR's own two: belt -> pants (it sits on the waistband)
  and bag -> background (carried, not worn: PINet's classes have no place for it).

The two lists are identical except label 10: **CIHP 10 = torso-skin**, **LIP 10 = jumpsuits**.
Torso skin visible above a garment is almost all neck / neckline, so CIHP 10 -> neck; a jumpsuit
is a one-piece garment covering upper and lower body like a dress, so LIP 10 -> dress.

The authors' exact grouping table is not published in their code; the table below groups each
source label into the 12 classes by name (an assumption to check against their released SPL2 maps
if you have them: e.g. they may count gloves or socks differently):

    src  CIHP name       LIP name        -> class
    0    background      background      -> 0 background
    1    hat             hat             -> 11 hat
    2    hair            hair            -> 1 hair
    3    glove           glove           -> 8 hands
    4    sunglasses      sunglasses      -> 7 face
    5    upper-clothes   upper-clothes   -> 2 upper-clothes
    6    dress           dress           -> 3 dress
    7    coat            coat            -> 2 upper-clothes
    8    socks           socks           -> 9 legs
    9    pants           pants           -> 4 pants
    10   torso-skin      jumpsuits       -> 5 neck (CIHP) / 3 dress (LIP)
    11   scarf           scarf           -> 2 upper-clothes
    12   skirt           skirt           -> 6 skirt
    13   face            face            -> 7 face
    14   left-arm        left-arm        -> 8 hands (PINet's "hands" is the arm skin)
    15   right-arm       right-arm       -> 8 hands
    16   left-leg        left-leg        -> 9 legs
    17   right-leg       right-leg       -> 9 legs
    18   left-shoe       left-shoe       -> 10 shoes
    19   right-shoe      right-shoe      -> 10 shoes
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image
from tqdm import tqdm

from pinet_tf.config import CLASS_NAMES
from pinet_tf.utils.atomic import atomic_files
from pinet_tf.utils.readers import bad_label, check_dir, read_label_map

_C = {name: i for i, name in enumerate(CLASS_NAMES)}

SOURCE_LABELS = {
    "cihp": ("background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat",
             "socks", "pants", "torso-skin", "scarf", "skirt", "face", "left-arm", "right-arm",
             "left-leg", "right-leg", "left-shoe", "right-shoe"),
    "lip": ("background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat",
            "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm",
            "left-leg", "right-leg", "left-shoe", "right-shoe"),
    "atr": ("background", "hat", "hair", "sunglasses", "upper-clothes", "skirt", "pants",
            "dress", "belt", "left-shoe", "right-shoe", "face", "left-leg", "right-leg",
            "left-arm", "right-arm", "bag", "scarf"),
}

_BY_NAME = {
    "background": "background", "hat": "hat", "hair": "hair", "glove": "hands",
    "sunglasses": "face", "upper-clothes": "upper-clothes", "dress": "dress",
    "coat": "upper-clothes", "socks": "legs", "pants": "pants", "torso-skin": "neck",
    "jumpsuits": "dress", "scarf": "upper-clothes", "skirt": "skirt", "face": "face",
    "left-arm": "hands", "right-arm": "hands", "left-leg": "legs", "right-leg": "legs",
    "left-shoe": "shoes", "right-shoe": "shoes", "belt": "pants", "bag": "background",
}

#: source label -> class id, one uint8 lookup table per label set.
MAPPINGS = {name: np.array([_C[_BY_NAME[label]] for label in labels], np.uint8)
            for name, labels in SOURCE_LABELS.items()}


def convert_labels(labels: np.ndarray, label_set: str, where: str = "input") -> np.ndarray:
    """uint [H, W] labels of `label_set` ("cihp", "lip": 0..19; "atr": 0..17) -> uint8
    classes 0..11."""
    if label_set not in MAPPINGS:
        raise ValueError(f"--labels must be one of {sorted(MAPPINGS)}, got {label_set!r}")
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"{where}: expected a single-channel label map, got shape {labels.shape}")
    n = len(SOURCE_LABELS[label_set])
    bad = bad_label(labels, n)
    if bad:
        raise ValueError(f"{where}: label {bad[0]} outside 0..{n - 1} (at {bad[1]}; expected "
                         f"{label_set.upper()} parser output)")
    return MAPPINGS[label_set][labels.astype(np.int64)]


def convert_directory(src: str, out: str, label_set: str, progress: bool = False) -> int:
    """Convert every label PNG in `src` into `out` (same names). Returns the number converted.
    Nothing reaches `out` unless every map converts."""
    check_dir(src, "input directory")
    if label_set not in MAPPINGS:
        raise ValueError(f"--labels must be one of {sorted(MAPPINGS)}, got {label_set!r}")
    names = sorted(n for n in os.listdir(src) if n.lower().endswith(".png"))
    if not names:
        raise ValueError(f"{src}: no .png label maps found")
    if os.path.abspath(src) == os.path.abspath(out):
        raise ValueError(f"--out {out} is the input directory: write the 12-class maps elsewhere")
    if os.path.exists(out):
        check_dir(out, "output directory (--out)")
    with atomic_files(out) as staging:  # a bad map leaves nothing in `out`
        for name in tqdm(names, desc="convert-parsing", unit="map", disable=not progress):
            path = os.path.join(src, name)
            labels = read_label_map(path, "label map")  # one-channel ids (not a colour picture)
            Image.fromarray(convert_labels(labels, label_set, path)).save(
                os.path.join(staging, name))
    return len(names)
