"""`pinet-tf score`: score a folder of any model's results under a named protocol.

    score("gfla", generated="out/gen", real="out/real", real_set="out/train", out="r.json")

Pairs are matched by file name (every generated file needs a real file of the same name and
size). Images stream through in chunks of the protocol's batch size, so a whole test set never
sits in memory: per-image measures (`Protocol.pairs`), LPIPS per chunk, FID features and IS
class probabilities per chunk. A batch rule that drops the remainder (GFLA, PIDM) drops the
last pairs in sorted name order. A metric whose network is missing (weights not found, or a
peer's feature extractor that pinet-tf has no port of) is skipped with one short line.
"""

from __future__ import annotations

import os

import numpy as np

from pinet_tf.evaluation import protocols as plib
from pinet_tf.evaluation.networks import short_reason

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: Feature extractors of the peers that pinet-tf has no port of (metric skipped, one line).
NOT_PORTED = {
    "pytorch_fid_inception": "the PyTorch FID Inception (pt_inception-2015-12-05-6726825d.pth)",
    "torchvision_inception": "torchvision's Inception v3 (inception_v3_google-0cc3c7bd.pth)",
    "tf1_inception": "the TF1 Inception graph of the original IS code",
}
#: ImageNet normalisation that torchvision's Inception v3 expects (CFLD renormalises with it).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def list_images(folder, what) -> dict:
    """name -> path of the image files directly in `folder`."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} {folder} is not a directory")
    found = {n: os.path.join(folder, n) for n in sorted(os.listdir(folder))
             if n.lower().endswith(IMAGE_EXTENSIONS)}
    if not found:
        raise ValueError(f"{what} {folder} holds no .png/.jpg images")
    return found


def match_pairs(generated, real) -> list:
    """[(name, generated path, real path)] in sorted name order; every generated file must have
    a real file of the same name."""
    gen, ref = list_images(generated, "--generated"), list_images(real, "--real")
    missing = [n for n in gen if n not in ref]
    if missing:
        raise ValueError(f"--real {real} has no {missing[0]} (and {len(missing) - 1} more "
                         f"generated files without a real one)" if len(missing) > 1 else
                         f"--real {real} has no {missing[0]}, the real image of "
                         f"{os.path.join(generated, missing[0])}")
    return [(n, gen[n], ref[n]) for n in gen]


def read_rgb(path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({e.__class__.__name__})") from None


def check_sizes(pairs) -> tuple:
    """(H, W) common to every generated/real pair, read from the headers; else a one-line error
    naming the first mismatching file."""
    from PIL import Image

    size = None
    for name, g, r in pairs:
        with Image.open(g) as a, Image.open(r) as b:
            if a.size != b.size:
                raise ValueError(f"{g}: {a.size[1]}x{a.size[0]} but its real image {r} is "
                                 f"{b.size[1]}x{b.size[0]}")
            size = size or a.size
            if a.size != size:
                raise ValueError(f"{g}: {a.size[1]}x{a.size[0]}, but the first pair is "
                                 f"{size[1]}x{size[0]}: one size per folder")
    return size[1], size[0]


def chunks(n: int, batch: int, drop_remainder: bool) -> list:
    """(start, end) of the peer's batches over n items: batch 0 = all at once; a batch larger
    than n becomes n (as GFLA/PIDM do); with drop_remainder the last partial batch is left out."""
    if batch <= 0 or batch > n:
        batch = n
    end = (n // batch) * batch if drop_remainder else n
    return [(s, min(s + batch, end)) for s in range(0, end, batch)]


# -- network inputs ------------------------------------------------------------------------------
def lpips_input(recipe, images) -> np.ndarray:
    """uint8 [B,H,W,3] -> float32 in [-1, 1] as the peer feeds LPIPS (PIDM: cv2-bilinear resize
    of the float image to 256x176 first)."""
    x = np.asarray(images, np.float32)
    if recipe.resize == "cv2_bilinear":
        x = plib.resize_cv2_bilinear(x, plib.DEEPFASHION)
    return x / np.float32(127.5) - np.float32(1.0)


def inception_input(network, images, resize="none") -> np.ndarray:
    """uint8 [B,H,W,3] -> the Inception input [B,299,299,3] of `network`'s recipe:
    x / 255 (after PIDM's cv2-bilinear resize to 256x176), bilinear to 299x299 (PyTorch's
    F.interpolate(align_corners=False) = tf.image.resize without antialias), then 2x - 1
    (pytorch-fid) or x * std/0.5 + (mean - 0.5)/0.5 per channel (CFLD's torchvision model)."""
    import tensorflow as tf

    x = np.asarray(images, np.float32)
    if resize == "cv2_bilinear":
        x = plib.resize_cv2_bilinear(x, plib.DEEPFASHION)
    x = tf.image.resize(x / 255.0, (299, 299), method="bilinear", antialias=False)
    if network == "torchvision_inception":
        std, mean = np.array(IMAGENET_STD, np.float32), np.array(IMAGENET_MEAN, np.float32)
        return (x * (std / 0.5) + (mean - 0.5) / 0.5).numpy()
    return (2.0 * x - 1.0).numpy()


class Networks:
    """The networks a protocol needs, built once; `skipped` holds metric -> short reason.

    `given`: network key -> ready object (tests: small random-weight networks)."""

    def __init__(self, protocol, given=None, allow_download=None, lpips_files=(None, None),
                 inception_weights=None):
        from pinet_tf.utils.weights import WeightsNotFoundError

        self.nets, self.skipped, self.files = dict(given or {}), {}, []
        wanted = (("lpips", protocol.lpips), ("fid", protocol.fid),
                  ("is", protocol.inception_score))
        for metric, recipe in wanted:
            if recipe is None or recipe.network in self.nets:
                continue
            if recipe.network in NOT_PORTED:
                self.skipped[metric] = f"needs {NOT_PORTED[recipe.network]}: not ported"
                continue
            try:
                if recipe.network == "alex":
                    from pinet_tf.metrics.lpips import LPIPS
                    net = LPIPS("alex", heads=lpips_files[0], backbone=lpips_files[1],
                                allow_download=allow_download)
                    self.files += net.weight_files
                else:
                    from pinet_tf.metrics.inception import InceptionNetwork
                    net = InceptionNetwork(inception_weights, allow_download=allow_download)
                    self.files.append(("Inception-v3", net.weights_path))
                self.nets[recipe.network] = net
            except WeightsNotFoundError as e:
                self.skipped[metric] = short_reason(e)
        if protocol.inception_score and "is" not in self.skipped:
            net = self.nets.get(protocol.inception_score.network)
            if net is not None and not getattr(net, "include_top", True):
                self.skipped["is"] = "the Inception weights have no classifier"

    def get(self, recipe):
        return None if recipe is None else self.nets.get(recipe.network)


def used_count(n: int, recipe) -> int:
    """How many of n images the peer's batch rule scores."""
    spans = chunks(n, recipe.batch, recipe.drop_remainder) if n else []
    return spans[-1][1] if spans else 0


READ_CHUNK = 64


class _Streams:
    """Running per-image values, LPIPS values and FID/IS statistics of one scoring."""

    def __init__(self, protocol, nets):
        self.p, self.nets = protocol, nets
        self.values = {}
        self.fid = self.istat = None

    def features(self, recipe, images):
        net = self.nets.get(recipe)
        x = images if recipe.network == "keras_inception" else \
            inception_input(recipe.network, images, recipe.resize)
        return {k: np.asarray(v) for k, v in net(x).items()}

    def add(self, key, values):
        self.values.setdefault(key, []).append(np.asarray(values, np.float64))

    def fid_update(self, real=None, fake=None):
        from pinet_tf.metrics import FeatureStatistics

        for side, imgs in (("real", real), ("fake", fake)):
            if imgs is None or not len(imgs):
                continue
            f = self.features(self.p.fid, imgs)["pool"]
            self.fid = self.fid or {s: FeatureStatistics(f.shape[-1]) for s in ("real", "fake")}
            self.fid[side].update(f)


def _prepare(protocol, images):
    return images if protocol.pair_size is None else \
        plib.resize_pil_bicubic(images, protocol.pair_size)


def score(protocol: str, generated: str, real: str, out: str, real_set=None, networks=None,
          allow_download=None, lpips_heads=None, lpips_backbone=None, inception_weights=None,
          progress: bool = True) -> dict:
    """Score `generated` against `real` (pairs by file name) under `protocol`; write `out`
    (JSON) and return the report (`metrics`: None where the peer computes no such number)."""
    from tqdm import tqdm

    from pinet_tf.evaluation.report import write_score_report

    p = plib.get(protocol)
    if not str(out).endswith(".json"):
        raise ValueError(f"--out must name a .json file, got {out!r}")
    pairs = match_pairs(generated, real)
    size = check_sizes(pairs)
    if p.pair_size is None and min(size) < p.min_side:
        raise ValueError(f"{generated}: {size[0]}x{size[1]} images are smaller than the "
                         f"{p.min_side}-pixel SSIM window of protocol {protocol!r}")
    real_files = list(list_images(real_set, "--real-set").values()) if real_set else None
    nets = Networks(p, networks, allow_download, (lpips_heads, lpips_backbone),
                    inception_weights)
    if p.fid and "fid" not in nets.skipped and p.fid.real_set == "real_set" and not real_files:
        nets.skipped["fid"] = "needs --real-set DIR (the peer's FID real set: training images)"
    n = len(pairs)
    if p.fid and "fid" not in nets.skipped and n < 2:
        nets.skipped["fid"] = f"needs at least 2 images, {n} given"
    s = _Streams(p, nets)
    lp_n = used_count(n, p.lpips) if p.lpips and "lpips" not in nets.skipped else 0
    fid_n = used_count(n, p.fid) if p.fid and "fid" not in nets.skipped else 0
    is_on = p.inception_score is not None and "is" not in nets.skipped
    if is_on:
        from pinet_tf.metrics.inception_score import SplitAccumulator
    bar = tqdm(total=n, desc=f"score {protocol}", unit="pair", disable=not progress)
    for start in range(0, n, READ_CHUNK):
        part = pairs[start:start + READ_CHUNK]
        gen = _prepare(p, np.stack([read_rgb(g) for _, g, _ in part]))
        ref = _prepare(p, np.stack([read_rgb(r) for _, _, r in part]))
        for k, v in p.pairs(ref, gen).items():
            s.add(k, v)
        k_lp, k_fid = max(0, min(len(part), lp_n - start)), max(0, min(len(part), fid_n - start))
        if k_lp:
            s.add("lpips", nets.get(p.lpips)(lpips_input(p.lpips, ref[:k_lp]),
                                             lpips_input(p.lpips, gen[:k_lp])))
        if k_fid:
            s.fid_update(real=ref[:k_fid] if p.fid.real_set == "targets" and not real_files
                         else None, fake=gen[:k_fid])
        if is_on:
            g = plib.pad_white(gen, p.inception_score.pad_columns) \
                if p.inception_score.pad_columns else gen
            probs = s.features(p.inception_score, g).get("probs")
            if s.istat is None:
                s.istat = SplitAccumulator(probs.shape[-1])
            s.istat.update(probs)
        bar.update(len(part))
    bar.close()
    if fid_n and real_files:
        real_n = used_count(len(real_files), p.fid)
        for start in range(0, real_n, READ_CHUNK):
            files = real_files[start:min(start + READ_CHUNK, real_n)]
            s.fid_update(real=_prepare(p, np.stack([read_rgb(f) for f in files])))
    return write_score_report(out, p, s, n=n, size=size, paths=(generated, real, real_set),
                              used={"lpips": lp_n, "fid": fid_n}, nets=nets,
                              real_count=len(real_files) if real_files else None)
