"""Session fixture: BlazePose's two model files, taken from the legacy MediaPipe wheel.

`pip download --no-deps mediapipe==0.10.14` (the cp311 manylinux x86_64 wheel, whatever this
machine runs: only two model files are read from it, nothing is installed) into a cache folder,
then the two `.tflite` files are extracted and checked against the hashes pinned in
`pinet_tf.utils.weights`. With $PINET_TF_TEST_CACHE set the wheel and the files are kept there
across sessions. When pip cannot reach the package registry the tests that need the files skip,
saying so.
"""

import os
import subprocess
import sys
import zipfile

import pytest

WHEEL = "mediapipe==0.10.14"
MEMBERS = {"blazepose_detector": "mediapipe/modules/pose_detection/pose_detection.tflite",
           "blazepose_landmarks_full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"}


def _complete(folder) -> bool:
    from pinet_tf.utils import weights as wlib

    for key in MEMBERS:
        f = wlib.FILES[key]
        path = os.path.join(folder, f.name)
        if not (os.path.isfile(path) and wlib.hash_matches(path, f)[0]):
            return False
    return True


@pytest.fixture(scope="session")
def blazepose_dir(tmp_path_factory):
    """A folder holding pose_detection.tflite and pose_landmark_full.tflite."""
    from pinet_tf.utils import weights as wlib

    root = os.environ.get("PINET_TF_TEST_CACHE")
    cache = (os.path.join(root, "mediapipe-0.10.14") if root
             else str(tmp_path_factory.mktemp("mediapipe")))
    os.makedirs(cache, exist_ok=True)
    if _complete(cache):
        return cache
    wheels = [w for w in os.listdir(cache) if w.startswith("mediapipe-") and w.endswith(".whl")]
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", cache,
               "--only-binary=:all:", "--platform", "manylinux_2_17_x86_64",
               "--python-version", "3.11", "--implementation", "cp", "--quiet"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wheels = [w for w in os.listdir(cache) if w.endswith(".whl")]
        if run.returncode != 0 or not wheels:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"pip could not download {WHEEL} (BlazePose's model files): {last}")
    with zipfile.ZipFile(os.path.join(cache, wheels[0])) as z:
        for key, member in MEMBERS.items():
            target = os.path.join(cache, wlib.FILES[key].name)
            with open(target + ".part", "wb") as out:
                out.write(z.read(member))
            os.replace(target + ".part", target)
    assert _complete(cache), f"the files in {wheels[0]} do not match the pinned sha256"
    return cache


@pytest.fixture
def blazepose_files(blazepose_dir, monkeypatch):
    """The BlazePose files found through $PINET_TF_WEIGHTS_DIR, downloads off."""
    monkeypatch.setenv("PINET_TF_WEIGHTS_DIR", blazepose_dir)
    monkeypatch.setenv("PINET_TF_NO_DOWNLOAD", "1")
    return blazepose_dir


def transfer_from_photo_alone(photo, tmp_path, capsys) -> str:
    """`pinet-tf transfer --source PHOTO --target-image MIRRORED --out r.png` with no keypoint or
    parsing file: both poses estimated, a rough parsing, the demo model; the result is the
    photo's size and nothing else is written. Returns what the command said on stderr."""
    import numpy as np
    from PIL import Image

    from pinet_tf.cli import main

    picture = np.asarray(Image.open(photo).convert("RGB"))
    other = tmp_path / "other.png"
    Image.fromarray(np.ascontiguousarray(picture[:, ::-1])).save(other)  # the mirrored photo
    out = tmp_path / "r.png"
    assert main(["transfer", "--source", str(photo), "--target-image", str(other),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{photo}: estimated" in err and f"{other}: estimated" in err
    assert "ROUGH parsing" in err
    assert np.asarray(Image.open(out)).shape == picture.shape
    assert sorted(os.listdir(tmp_path)) == ["other.png", "r.png"]
    return err
