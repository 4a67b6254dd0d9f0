"""Pretrained files the project borrows, found and fetched the way `keras.applications` does it.

Every network with pretrained weights (the perceptual loss's VGG19, FID/IS's Inception-v3, LPIPS's
backbones and linear heads) names its file in `FILES`, with the file's official URL and a pinned
hash. `locate(key)` looks, in order, at

1. an explicit path (given by the user: it must exist, else an error, never a silent fallback);
2. `$PINET_TF_WEIGHTS_DIR`;
3. the Keras cache (`$KERAS_HOME/models`, else `~/.keras/models`), where keras.applications keeps
   its own downloads;
4. for torchvision files, torch's hub cache (`$TORCH_HOME/hub/checkpoints`, else
   `~/.cache/torch/hub/checkpoints`);
5. a folder inside an installed package, found without importing it (BlazePose's model files
   in a legacy `mediapipe` wheel's `modules/`: MediaPipe itself is never a dependency, its
   protobuf pin conflicts with TensorFlow's);
6. folders the caller adds (e.g. the data folder of an installed `lpips` wheel);

and only then downloads the file with `keras.utils.get_file` into the Keras cache. The download
goes to a hidden temporary folder there and is renamed into place only after its hash matched, so
a wrong or interrupted download leaves nothing behind. `allow_download=False` (the verbs'
`--no-download`) or `PINET_TF_NO_DOWNLOAD=1` forbid downloads; then a missing file is one line
naming the file, its URL and every place looked.

Pinned hashes: Keras publishes an md5 per file (its `file_hash`, checked here with get_file);
torchvision publishes only the first 8 hex digits of the sha256 (in the file name: torch.hub
checks that prefix, and so do we); the LPIPS heads' sha256 was computed from the files of the
`lpips` 0.1.4 wheel, identical to those of the GitHub repository's master; BlazePose's from the
files of the `mediapipe` 0.10.14 wheel (cp311, manylinux x86_64), the same as MediaPipe's own
pins of those object generations in its `third_party/external_files.bzl`.
Files found locally are not hashed at load time (a user may hold converted weights); reports
record every file's sha256 (`sha256_file`).

`PINET_TF_WEIGHTS_BASE_URL` replaces every origin by BASE/<file name> (a mirror; the tests' own
loopback server). Nothing here imports TensorFlow until a download starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass

from pinet_tf.utils.atomic import TMP_PREFIX

#: Folder searched for every pretrained file (after an explicit path).
ENV_DIR = "PINET_TF_WEIGHTS_DIR"
#: Set to 1 (or true/yes) to forbid downloads, like the verbs' --no-download.
ENV_NO_DOWNLOAD = "PINET_TF_NO_DOWNLOAD"
#: Download every file from BASE/<file name> instead of its official URL (mirrors, tests).
ENV_BASE_URL = "PINET_TF_WEIGHTS_BASE_URL"

HASH_KINDS = ("md5", "sha256", "sha256-prefix")


@dataclass(frozen=True)
class PretrainedFile:
    """One published weights file: its name (also its name in every cache), URL and hash."""

    key: str
    what: str
    name: str
    url: str
    hash: str
    hash_kind: str  # one of HASH_KINDS
    aliases: tuple = ()  # other names accepted in the search folders (e.g. an .npz conversion)
    torchvision: bool = False  # also searched in torch's hub cache
    package: tuple = ()  # (package, sub-folder): also searched inside that installed package

    @property
    def names(self) -> tuple:
        return (self.name,) + tuple(self.aliases)

    def origin(self) -> str:
        base = os.environ.get(ENV_BASE_URL)
        return f"{base.rstrip('/')}/{self.name}" if base else self.url

    def pinned(self) -> str:
        return f"{self.hash_kind} {self.hash}"


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications"
_TORCHVISION = "https://download.pytorch.org/models"
_LPIPS = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1"
_MEDIAPIPE = "https://storage.googleapis.com/mediapipe-assets"

FILES = {f.key: f for f in (
    PretrainedFile("vgg19_notop", "VGG19 notop weights (Keras, Caffe-trained)",
                   "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   f"{_KERAS_APPS}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   "253f8cb515780f3b799900260a226db6", "md5"),
    PretrainedFile("vgg19_torchvision", "VGG19 weights (torchvision, the authors' perceptual net)",
                   "vgg19-dcbb9e9d.pth", f"{_TORCHVISION}/vgg19-dcbb9e9d.pth",
                   "dcbb9e9d", "sha256-prefix", torchvision=True),
    PretrainedFile("inception_v3", "Inception-v3 with classifier (FID and Inception Score)",
                   "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                   f"{_KERAS_APPS}/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                   "9a0d58056eeedaa3f26cb7ebd46da564", "md5"),
    PretrainedFile("inception_v3_notop", "Inception-v3 notop (FID only)",
                   "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   f"{_KERAS_APPS}/inception_v3/"
                   "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   "bcbd6486424b2319ff4ef7d526e38f63", "md5"),
    PretrainedFile("lpips_alex_backbone", "LPIPS alex backbone (torchvision AlexNet)",
                   "alexnet-owt-7be5be79.pth", f"{_TORCHVISION}/alexnet-owt-7be5be79.pth",
                   "7be5be79", "sha256-prefix", aliases=("alexnet-owt-7be5be79.npz",),
                   torchvision=True),
    PretrainedFile("lpips_vgg_backbone", "LPIPS vgg backbone (torchvision VGG16)",
                   "vgg16-397923af.pth", f"{_TORCHVISION}/vgg16-397923af.pth",
                   "397923af", "sha256-prefix", aliases=("vgg16-397923af.npz",),
                   torchvision=True),
    PretrainedFile("lpips_alex_heads", "LPIPS alex linear heads (v0.1)", "lpips_alex.pth",
                   f"{_LPIPS}/alex.pth",
                   "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", "sha256",
                   aliases=("alex.pth", "lpips_alex.npz")),
    PretrainedFile("lpips_vgg_heads", "LPIPS vgg linear heads (v0.1)", "lpips_vgg.pth",
                   f"{_LPIPS}/vgg.pth",
                   "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", "sha256",
                   aliases=("vgg.pth", "lpips_vgg.npz")),
    PretrainedFile("blazepose_detector", "BlazePose person detector (MediaPipe, Apache-2.0)",
                   "pose_detection.tflite",
                   f"{_MEDIAPIPE}/pose_detection.tflite?generation=1678737489600422",
                   "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", "sha256",
                   package=("mediapipe", "modules/pose_detection")),
    PretrainedFile("blazepose_landmarks_full",
                   "BlazePose full landmark model (MediaPipe, Apache-2.0)",
                   "pose_landmark_full.tflite",
                   f"{_MEDIAPIPE}/pose_landmark_full.tflite?generation=1661875894245786",
                   "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", "sha256",
                   package=("mediapipe", "modules/pose_landmark")),
)}


class WeightsNotFoundError(FileNotFoundError):
    """A pretrained file is neither on this machine nor downloadable now."""


class WeightsHashError(ValueError):
    """A downloaded file's hash differs from the pinned one (it was refused and deleted)."""


def spec(key: str) -> PretrainedFile:
    if key not in FILES:
        raise ValueError(f"unknown pretrained file {key!r}; known: {', '.join(sorted(FILES))}")
    return FILES[key]


def downloads_allowed(allow_download=None) -> bool:
    """`allow_download` when given, else True unless $PINET_TF_NO_DOWNLOAD is 1/true/yes."""
    if allow_download is not None:
        return bool(allow_download)
    return os.environ.get(ENV_NO_DOWNLOAD, "").strip().lower() not in ("1", "true", "yes", "on")


def keras_cache_dir() -> str:
    """Where keras.applications keeps downloads: $KERAS_HOME/models, else ~/.keras/models (or
    /tmp/.keras/models when the home folder is read-only, as Keras does)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return os.path.join(os.path.expanduser(home), "models")


def torch_hub_dir() -> str:
    """torch.hub's checkpoint folder: $TORCH_HOME/hub/checkpoints, else
    $XDG_CACHE_HOME/torch/hub/checkpoints, else ~/.cache/torch/hub/checkpoints."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "torch")
    return os.path.join(os.path.expanduser(home), "hub", "checkpoints")


def package_dir(name: str):
    """Folder of an installed package, found WITHOUT importing it (the lpips package imports
    torch and torchvision; only the data files in its wheel are wanted)."""
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return list(found.submodule_search_locations)[0]


def search_dirs(f: PretrainedFile, extra_dirs=()) -> list:
    """(label, folder) pairs searched for `f`, in order; an unset $PINET_TF_WEIGHTS_DIR (or a
    package that is not installed) is listed with folder None so that messages can say so."""
    dirs = [(f"${ENV_DIR}", os.environ.get(ENV_DIR) or None), ("Keras cache", keras_cache_dir())]
    if f.torchvision:
        dirs.append(("torch hub cache", torch_hub_dir()))
    if f.package:
        name, sub = f.package
        root = package_dir(name)
        dirs.append((f"installed {name} package",
                     None if root is None else os.path.join(root, *sub.split("/"))))
    dirs += [("", os.path.expanduser(d)) for d in extra_dirs if d]
    return dirs


def check_explicit(path, what: str) -> str:
    """An explicitly given weights path: it must be an existing file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: {path} is a directory, expected a weights file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: weights file {path} does not exist")
    return path


def locate(key: str, explicit=None, extra_dirs=(), allow_download=None, hint: str = "",
           local_only: bool = False) -> str:
    """Path of pretrained file `key`: explicit path, search folders, else a download.

    `hint`: how a user passes the path (e.g. "--vgg-weights PATH"), for messages.
    `local_only`: never download (a caller trying alternatives first).
    Raises WeightsNotFoundError (an OSError) when the file is nowhere and cannot be downloaded,
    FileNotFoundError when an explicit path does not exist, WeightsHashError on a bad download.
    """
    f = spec(key)
    if explicit:
        return check_explicit(explicit, f.what)
    looked = []
    for label, folder in search_dirs(f, extra_dirs):
        if folder is None:
            looked.append(f"{label} (not set)" if label.startswith("$") else
                          f"{label} (not installed)")
            continue
        for name in f.names:
            p = os.path.join(folder, name)
            if os.path.isfile(p):
                return p
        looked.append(os.path.join(folder, f.name) if len(f.names) == 1 else
                      os.path.join(folder, "{" + ",".join(f.names) + "}"))
    where = "; ".join(looked)
    pass_it = f"pass its path ({hint})" if hint else "pass its path"
    if local_only:
        raise WeightsNotFoundError(f"{f.what}: {f.name} not found; looked in: {where}")
    if not downloads_allowed(allow_download):
        raise WeightsNotFoundError(
            f"{f.what}: {f.name} not found and downloads are off (--no-download or "
            f"${ENV_NO_DOWNLOAD}=1); looked in: {where}; download {f.origin()} into one of "
            f"these folders or {pass_it}")
    try:
        return download(f)
    except WeightsNotFoundError as e:
        raise WeightsNotFoundError(f"{e}; looked in: {where}; or {pass_it}") from None


def file_digest(path, algorithm: str) -> str:
    """Hex digest of a file ("md5" or "sha256"; 1 MiB chunks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path) -> str:
    return file_digest(path, "sha256")


def hash_matches(path, f: PretrainedFile) -> tuple:
    """(matches, the file's digest in the pinned hash's algorithm)."""
    digest = file_digest(path, "md5" if f.hash_kind == "md5" else "sha256")
    if f.hash_kind == "sha256-prefix":
        return digest.startswith(f.hash), digest
    return digest == f.hash, digest


def _one_line(text) -> str:
    return " ".join(str(text).split())


def download(f: PretrainedFile, cache_dir=None) -> str:
    """Download `f` with keras.utils.get_file into the Keras cache; return its path.

    Into a hidden temporary folder of the cache first; renamed to <cache>/<name> only once the
    hash matched, so nothing partial or wrong is ever under the final name.
    """
    from keras.utils import get_file

    cache_dir = os.fspath(cache_dir or keras_cache_dir())
    url = f.origin()
    try:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + "download-", dir=cache_dir)
    except OSError as e:
        raise WeightsNotFoundError(f"{f.what}: cannot download {f.name} into the Keras cache "
                                   f"{cache_dir}: {_one_line(e.strerror or e)}") from None
    try:
        full = f.hash_kind in ("md5", "sha256")
        try:
            path = get_file(f.name, url, cache_dir=tmp, cache_subdir="",
                            file_hash=f.hash if full else None,
                            hash_algorithm=f.hash_kind if full else "auto")
        except ValueError:  # get_file's hash check; the file is still in tmp
            path = os.path.join(tmp, f.name)
            if not os.path.isfile(path):
                raise
        except Exception as e:  # get_file wraps URL errors in a bare Exception
            raise WeightsNotFoundError(f"{f.what}: {f.name} not found locally and the download "
                                       f"from {url} failed: {_one_line(e)}") from None
        ok, digest = hash_matches(path, f)
        if not ok:
            raise WeightsHashError(
                f"{f.what}: the download from {url} has {f.hash_kind.split('-')[0]} {digest}, "
                f"expected {f.pinned()}: refused, nothing was cached")
        final = os.path.join(cache_dir, f.name)
        os.chmod(path, 0o644)
        os.replace(path, final)
        return final
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


def read_state_dict(path) -> dict:
    """name -> array from a torch `.pth` (read with the safe `torchfile` reader) or an `.npz`
    holding the same keys."""
    path = os.fspath(path)
    if path.endswith(".npz"):
        import numpy as np

        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    from pinet_tf.utils.torchfile import load_state_dict

    return load_state_dict(path)
