"""Readers of the files a user brings: photos, label maps, text and JSON (keypoint files and the
authors' annotation CSV: `pinet_tf.utils.keypoint_files`, built on these).

One reader of each kind for the whole package: the data reader (`datasets.patn`), the inference
verbs (`transfer`, `texture`) and the serving `client` all read users' files here, so one flag
(`--source`, `--source-parsing`) accepts the same files everywhere and every bad file
gets the same one-line error: the path (and line), then what is wrong. Errors are
ValueError (bad content) or an OSError subclass with a sentence instead of ``[Errno N]``
(FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError).

Label maps (`read_label_map`), one policy on image modes: one-channel images (L, P, I, I;16) are
label ids (a palette image's indices, not its colours); an RGB(A) image whose three channels are
equal is grey saved as colour (its ids); an RGB(A) image painted with `palette` colours (what
`utils.drawing.colorize_parsing` writes) maps back to the ids when the caller gives the palette;
anything else is refused.
"""

from __future__ import annotations

import json
import os
import re
import struct
import warnings
import zlib

import numpy as np


# -- paths, text, JSON -----------------------------------------------------------------------------
def _check_kind(path, what: str, folder: bool) -> str:
    path = os.fspath(path)
    if (os.path.isdir if folder else os.path.isfile)(path):
        return path
    if folder and os.path.exists(path):
        raise NotADirectoryError(f"{path}: is a file, expected the {what} (a folder)")
    if not folder and os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a folder, expected the {what} (a file)")
    raise FileNotFoundError(f"{what} not found: {path}")


def check_file(path, what: str) -> str:
    """`path` must be a file: a missing one or a folder is said as such."""
    return _check_kind(path, what, folder=False)


def check_dir(path, what: str) -> str:
    """`path` must be a folder: a missing one or a file is said as such."""
    return _check_kind(path, what, folder=True)


def check_writable(path, what: str, folder: bool = False) -> str:
    """`path` can be created: its nearest existing ancestor is a folder, and a file to write
    (`folder` False) is not an existing folder. Checked before any work, so a typo in `--out`
    fails before the model runs."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise NotADirectoryError(f"{path}: cannot write the {what}: {parent} is a file, not a "
                                 f"folder")
    if os.path.isdir(path) and not folder:
        raise IsADirectoryError(f"{path}: cannot write the {what}: is a folder")
    return path


def os_error(path, error: OSError, what: str, action: str = "read") -> OSError:
    """An OSError from reading (or writing: `action`) `path` -> the same kind of error with a
    sentence naming the path instead of ``[Errno N] ...``."""
    reason = {FileNotFoundError: "not found", IsADirectoryError: "is a folder, not a file",
              NotADirectoryError: "a part of the path is a file, not a folder",
              PermissionError: "permission denied",
              FileExistsError: "a file of that name is in the way"}.get(type(error))
    if reason is None:
        reason = error.strerror.lower() if error.strerror else str(error)
    return type(error)(f"{path}: cannot {action} the {what}: {reason}")


def read_text(path, what: str) -> str:
    """A UTF-8 text file; a binary file or an unreadable one is an error naming it."""
    path = check_file(path, what)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise os_error(path, e, what) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not a text file (byte {e.start} is not UTF-8); "
                         f"expected the {what}") from None


class NonFinite(ValueError):
    """A NaN / inf number in JSON, or an integer too long to be a value (`token` is its text,
    shortened; `reason` what is wrong with it)."""

    def __init__(self, token, reason="is not a finite number"):
        super().__init__(token)
        self.token, self.reason = token, reason


#: Longest integer literal `loads_finite` converts (int64 has 19 digits); a longer one is refused
#: before Python parses it (a 5,000-digit number is a ValueError in `int`).
MAX_INT_DIGITS = 19


def _bounded_int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise NonFinite(text[:20] + ("..." if len(text) > 20 else ""),
                        f"is out of range (an integer of {len(text.lstrip('-'))} digits)")
    return int(text)


def _finite_float(text):
    value = float(text)
    if not np.isfinite(value):
        raise NonFinite(text)
    return value


def _refuse_constant(name):
    raise NonFinite(name)


def loads_finite(text: str):
    """`json.loads` that refuses NaN / Infinity / overflowing numbers and integers longer than
    MAX_INT_DIGITS (raises `NonFinite`)."""
    return json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant,
                      parse_int=_bounded_int)


def _line_of(text: str, token: str) -> int:
    m = re.search(r"(?<![\w.])" + re.escape(token) + r"(?![\w.])", text)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def read_json(path, what: str):
    """A JSON file of finite numbers; every problem is one ValueError naming the file (and line)."""
    text = read_text(path, what)
    try:
        return loads_finite(text)
    except NonFinite as e:
        raise ValueError(f"{path}:{_line_of(text, e.token.rstrip('.'))}: {e.token} {e.reason} "
                         f"(the {what} must hold finite numbers)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg}); expected the "
                         f"{what}") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to be the {what}") from None


# -- images ----------------------------------------------------------------------------------------
#: Largest picture decoded (pixels, from the header, before any decoding): a 48 Mpx phone photo
#: passes; a few hundred bytes declaring 144 Mpx (gigabytes once decoded) does not.
MAX_PIXELS = 64 << 20

#: Image modes whose pixels are label ids.
LABEL_MODES = ("L", "P", "I", "I;16", "I;16L", "I;16B")


def _decode(path, what: str, convert):
    """Decode an image file with `convert(PIL image) -> array`; every failure names the file."""
    from PIL import Image, UnidentifiedImageError

    path = check_file(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS rules
            with Image.open(path) as im:
                w, h = im.size  # from the header: nothing decoded yet
                if w * h <= MAX_PIXELS:
                    im.load()
                    return convert(im)
    except Image.DecompressionBombError as e:
        raise ValueError(f"{path}: the {what} is too large to decode safely "
                         f"({str(e).rstrip('.')})") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: cannot read {what} (not an image format PIL knows: expected "
                         f"PNG or JPEG)") from None
    except OSError as e:
        if e.errno is not None:
            raise os_error(path, e, what) from None
        raise ValueError(f"{path}: cannot read {what} (corrupt or truncated file: {e})") from None
    except (SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError) as e:
        raise ValueError(f"{path}: cannot read {what} (corrupt file: {e})") from None
    raise ValueError(f"{path}: the {what} declares {w}x{h} pixels ({w * h / 1e6:.0f} Mpx), more "
                     f"than this reader decodes ({MAX_PIXELS / 1e6:.0f} Mpx); nothing was "
                     f"decoded")


def read_image(path, what: str = "image") -> np.ndarray:
    """Any photo PIL reads -> uint8 RGB [h, w, 3] (alpha dropped, greyscale expanded)."""
    return _decode(path, what, lambda im: np.asarray(im.convert("RGB"), dtype=np.uint8))


def _label_pixels(im):
    if im.mode in LABEL_MODES:
        return im.mode, np.asarray(im)
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    return im.mode, np.asarray(im)


def bad_label(labels: np.ndarray, count: int):
    """(the first label outside 0..count-1, "row R, column C" where it is), or None when every
    label is in range: a negative label is named as itself, never as the largest one."""
    labels = np.asarray(labels)
    bad = (labels < 0) | (labels >= count)
    if not bad.any():
        return None
    at = np.unravel_index(int(np.flatnonzero(bad)[0]), labels.shape)
    return int(labels[at]), ", ".join(f"{axis} {i}" for axis, i in zip(("row", "column"), at))


def read_label_map(path, what: str = "parsing map", palette=None) -> np.ndarray:
    """A label image -> int64 ids [h, w] (module docstring's policy; range checks are the
    caller's, who knows the label set). `palette` [N, 3]: colours that stand for ids 0..N-1."""
    path = os.fspath(path)
    mode, arr = _decode(path, what, _label_pixels)
    if mode in LABEL_MODES:
        return arr.astype(np.int64)
    rgb = arr[..., :3].astype(np.int64)
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0]  # grey saved as RGB
    if palette is None:
        raise ValueError(f"{path}: the {what} is a colour picture (mode {mode}); expected a "
                         f"one-channel label PNG (the parser's label output, not its colour "
                         f"visualisation)")
    weights = np.array([65536, 256, 1])
    codes = rgb @ weights
    known = np.asarray(palette, np.int64) @ weights
    order = np.argsort(known)
    idx = np.clip(np.searchsorted(known[order], codes), 0, len(known) - 1)
    if not (known[order][idx] == codes).all():
        raise ValueError(f"{path}: RGB {what} with colours outside the PINet palette; give a "
                         f"one-channel label PNG (ids 0..{len(known) - 1})")
    return order[idx]
