"""The sample in examples/ (what the README walks through) is valid input for the verbs."""

import os
import re

import numpy as np

from pinet_tf.config import CLASS_NAMES
from pinet_tf.inference import pipeline
from pinet_tf.inference.readers import read_keypoints

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples")


def test_sample_files_load_and_agree():
    person = pipeline.load_person(os.path.join(EX, "person.png"),
                                  os.path.join(EX, "person_keypoints.json"),
                                  os.path.join(EX, "person_parsing.png"))
    assert person.image.shape == (256, 176, 3)
    assert (person.keypoints >= 0).all(axis=1).sum() >= 14
    target = pipeline.load_person(os.path.join(EX, "target.png"),
                                  os.path.join(EX, "target_keypoints.json"))
    assert (target.keypoints >= 0).all(axis=1).sum() >= 14
    assert np.abs(target.keypoints - person.keypoints).max() > 5   # a different pose
    clothes = pipeline.load_person(os.path.join(EX, "clothes.png"), None,
                                   os.path.join(EX, "clothes_parsing.png"))
    # The README's texture example replaces these regions: both people have them.
    for labels in (person.parsing, clothes.parsing):
        for region in ("upper-clothes", "pants"):
            assert (labels == CLASS_NAMES.index(region)).sum() > 100


def test_readme_names_only_shipped_files():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## Run it on your own photo", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"examples/[\w./]+\.(?:png|json|py)", section))
    assert {"examples/person.png", "examples/person_keypoints.json",
            "examples/person_parsing.png", "examples/target_keypoints.json"} <= named
    for path in named:
        assert os.path.isfile(os.path.join(ROOT, path)), path
    read_keypoints(os.path.join(EX, "target_keypoints.json"))
