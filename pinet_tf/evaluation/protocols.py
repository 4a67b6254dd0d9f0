"""Scoring protocols picked by name (big_vision style): each peer's metric recipe, step by step.

Every pose-transfer paper scores with its own script, and the scripts differ in padding, resizing,
value range, SSIM window, FID real set and feature extractor, LPIPS input and which images a
batch rule drops, so published numbers move with the script as much as with the model. A
`Protocol` writes one script's recipe down as data (`steps`, each naming the peer file it
follows) plus the functions that reproduce it: `pairs` (per-image SSIM, SSIM_256, L1, PSNR as
that script defines them), and the LPIPS / FID / IS recipes (`NetRecipe`) that `scoring` runs.

    PROTOCOLS["gfla"].pairs(target_uint8, generated_uint8) -> {"ssim": [B], "ssim_256": [B], ...}

The facts were read from the peers' own evaluation code (repository@commit in `source`); the
docs page docs/guides/evaluation.md lists them. `pinet` is the project's own protocol
(`pinet_tf.metrics.standard`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The DeepFashion size the peers resize to (height, width).
DEEPFASHION = (256, 176)
#: None in a metric's slot: the peer's script does not compute it.
METRICS = ("ssim", "ssim_256", "l1", "psnr", "lpips", "fid", "is")


@dataclass(frozen=True)
class NetRecipe:
    """How a peer feeds a network-based metric (LPIPS, FID or IS)."""

    network: str  # key of the feature extractor / LPIPS net (see scoring.NETWORKS)
    resize: str = "none"  # "none" | "cv2_bilinear" (to DEEPFASHION) | as the pair pipeline
    batch: int = 0  # batch size of the peer's loop (0: all images, no batch rule)
    drop_remainder: bool = False  # images past the last full batch are not scored
    real_set: str = ""  # FID: "targets" or "real_set" (--real-set DIR)
    pad_columns: int = 0  # IS: white columns on each side (PATN)


@dataclass(frozen=True)
class Protocol:
    name: str
    peer: str
    source: str  # repository@commit: file
    steps: tuple  # ((step, what it does, peer file:function), ...)
    pairs: object  # (target uint8 [B,H,W,3], generated uint8) -> {metric: per-image array}
    lpips: NetRecipe | None = None
    fid: NetRecipe | None = None
    inception_score: NetRecipe | None = None
    pair_size: tuple | None = None  # images are resized to this before `pairs` (CFLD)
    min_side: int = 11  # smallest height/width the peer's SSIM window accepts
    notes: tuple = field(default_factory=tuple)


PROTOCOLS: dict = {}


def register(protocol: Protocol) -> Protocol:
    PROTOCOLS[protocol.name] = protocol
    return protocol


def get(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


# -- image steps -------------------------------------------------------------------------------
def pad_white(images, columns: int) -> np.ndarray:
    """uint8 [B,H,W,3] with `columns` white (255) columns added on each side (PATN's
    `addBounding`)."""
    x = np.asarray(images, np.uint8)
    return np.pad(x, ((0, 0), (0, 0), (columns, columns), (0, 0)), constant_values=255)


def resize_pil_bicubic(images, size) -> np.ndarray:
    """uint8 [B,H,W,3] -> uint8 [B,h,w,3] with PIL's bicubic filter (torchvision's
    `Resize(BICUBIC)` on PIL images calls exactly this); unchanged when already that size."""
    from PIL import Image

    x = np.asarray(images, np.uint8)
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    return np.stack([np.asarray(Image.fromarray(im).resize((size[1], size[0]),
                                                           Image.Resampling.BICUBIC))
                     for im in x])


def resize_cv2_bilinear(images, size) -> np.ndarray:
    """float [B,H,W,3] (0..255) -> float32 at `size` like `cv2.resize(img, (w, h))` on float32
    (INTER_LINEAR: half-pixel centres, edge pixels repeated, no antialiasing), which is what
    `tf.image.resize(..., "bilinear", antialias=False)` computes."""
    import tensorflow as tf

    x = np.asarray(images, np.float32)
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    return tf.image.resize(x, size, method="bilinear", antialias=False).numpy()


# -- per-image measures ------------------------------------------------------------------------
def _ssim(t, g, data_range, **kw) -> np.ndarray:
    import tensorflow as tf

    from pinet_tf.metrics.ssim import ssim

    return ssim(t, g, data_range, tf.float64, **kw).numpy()


def _peak(images) -> np.ndarray:
    """Per-image max - min (the peers' `data_range=img_pred.max() - img_pred.min()`)."""
    x = np.asarray(images, np.float64)
    return x.reshape(len(x), -1).max(1) - x.reshape(len(x), -1).min(1)


def _unit(images) -> np.ndarray:
    """uint8 -> float in [0, 1] (float32 like the peers' `imread(...).astype(np.float32) / 255`,
    widened to float64 for the arithmetic)."""
    return (np.asarray(images, np.float32) / np.float32(255.0)).astype(np.float64)


def _psnr_unit(t, g) -> np.ndarray:
    """scikit-image `peak_signal_noise_ratio(gt, pred, data_range=1)` per image (inf when equal)."""
    mse = ((_unit(t) - _unit(g)) ** 2).reshape(len(t), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(1.0 / mse)


def _uniform51(t, g) -> np.ndarray:
    """`compare_ssim(gt, pred, data_range=1, win_size=51, multichannel=True)` on [0, 1] floats:
    scikit-image's default uniform window (51 px) and sample covariance."""
    return _ssim(_unit(t), _unit(g), 1.0, gaussian=False, win_size=51, sample_covariance=True)


def _gaussian_256(sigma):
    def f(t, g):
        """SSIM_256: x255 floats, Gaussian window, population covariance, data range = the
        generated image's max - min."""
        return _ssim(t, g, _peak(g), sigma=sigma)
    return f


def _l1_unit(t, g) -> np.ndarray:
    return np.abs(_unit(t) - _unit(g)).reshape(len(t), -1).mean(1)


def patn_pairs(t, g) -> dict:
    t, g = pad_white(t, 40), pad_white(g, 40)
    return {"ssim": _ssim(t, g, _peak(g), sigma=1.5),
            "l1": np.abs(2 * (_unit(t) - 0.5) - 2 * (_unit(g) - 0.5)).reshape(len(t), -1).mean(1)}


def gfla_pairs(t, g, sigma=1.5) -> dict:
    return {"ssim": _uniform51(t, g), "ssim_256": _gaussian_256(sigma)(t, g),
            "l1": _l1_unit(t, g), "psnr": _psnr_unit(t, g)}


def pidm_pairs(t, g) -> dict:
    return gfla_pairs(t, g, sigma=1.2)


def cfld_pairs(t, g) -> dict:
    return {"ssim": _uniform51(t, g), "ssim_256": _gaussian_256(1.5)(t, g),
            "psnr": _psnr_unit(t, g)}


def pinet_pairs(t, g) -> dict:
    from pinet_tf.metrics.standard import scores

    return {k: np.asarray(v, np.float64) for k, v in scores(t, g).items()}


# -- the registry --------------------------------------------------------------------------------
_PATN = "tengteng95/Pose-Transfer@5ec3d32: tool/getMetrics_fashion.py"
_GFLA = "RenYurui/Global-Flow-Local-Attention@ac20847: script/metrics.py"
_PIDM = "ankanbhunia/PIDM@f6499c2: utils/metrics.py"
_CFLD = "YanzuoLu/CFLD@2e44c01: models/metrics.py, pose_transfer_test.py, datasets/deepfashion.py"

register(Protocol(
    "patn", "PATN (Zhu et al., CVPR 2019)", _PATN,
    (("pad", "40 white columns on each side of target and generated (256x176 -> 256x256)",
      "load_generated_images / addBounding"),
     ("ssim", "skimage SSIM on the padded uint8 images: gaussian_weights, sigma 1.5, "
              "use_sample_covariance=False, data_range = generated max - min", "ssim_score"),
     ("l1", "mean |2(t/255 - 0.5) - 2(g/255 - 0.5)| on the padded images (the range [-1, 1]; "
            "defined but not called by test())", "l1_score"),
     ("is", "Inception Score of the padded generated images (OpenAI TF1 Inception graph)",
      "test / get_inception_score"),
     ("no psnr, lpips, fid", "the script computes none of them", "test")),
    patn_pairs, inception_score=NetRecipe("tf1_inception", pad_columns=40)))

register(Protocol(
    "gfla", "GFLA (Ren et al., CVPR 2020)", _GFLA,
    (("read", "images as stored (no resize), uint8 / 255 in float32",
      "Reconstruction_Metrics.calculate_from_disk"),
     ("ssim", "skimage SSIM on [0, 1]: win_size=51 uniform window, sample covariance, "
              "data_range=1", "calculate_from_disk / compare_ssim"),
     ("ssim_256", "skimage SSIM on x255 floats: gaussian sigma 1.5, use_sample_covariance="
                  "False, data_range = generated max - min", "calculate_from_disk"),
     ("l1", "mean |gt - pred| on [0, 1]", "compare_l1"),
     ("psnr", "skimage PSNR, data_range=1 (inf for identical images)", "compare_psnr"),
     ("lpips", "LPIPS v0.1 AlexNet (net-lin) on imread/127.5 - 1, batches of 64, the "
               "remainder dropped (batch = N when N < 64)", "LPIPS.calculate_from_disk"),
     ("fid", "generated folder vs --fid_real_path folder (users pass the training images), "
             "images as stored / 255, PyTorch FID Inception pool3 (2048), batches of 64 with "
             "the remainder dropped, np.cov", "FID.calculate_from_disk / get_activations")),
    gfla_pairs, min_side=51, lpips=NetRecipe("alex", batch=64, drop_remainder=True),
    fid=NetRecipe("pytorch_fid_inception", batch=64, drop_remainder=True, real_set="real_set")))

register(Protocol(
    "pidm", "PIDM (Bhunia et al., CVPR 2023)", _PIDM,
    (("read", "images as stored / 255 in float32 for SSIM, L1, PSNR",
      "Reconstruction_Metrics.calculate_from_disk"),
     ("ssim", "as GFLA: win_size=51 uniform, sample covariance, data_range=1", "compare_ssim"),
     ("ssim_256", "as GFLA but gaussian sigma 1.2", "calculate_from_disk"),
     ("l1", "mean |gt - pred| on [0, 1]", "compare_l1"),
     ("psnr", "skimage PSNR, data_range=1", "compare_psnr"),
     ("lpips", "lpips.LPIPS(net='alex') on cv2.resize(float32 image, (176, 256)) / 127.5 - 1, "
               "batches of 64, remainder dropped", "LPIPS.calculate_from_disk"),
     ("fid", "both folders cv2.resize(float32, (176, 256)) (bilinear) / 255; real folder = "
             "the training images; PyTorch FID Inception pool3, batches of 64, remainder "
             "dropped", "FID.compute_statistics_of_path")),
    pidm_pairs, min_side=51, lpips=NetRecipe("alex", "cv2_bilinear", 64, True),
    fid=NetRecipe("pytorch_fid_inception", "cv2_bilinear", 64, True, "real_set")))

register(Protocol(
    "cfld", "CFLD (Lu et al., CVPR 2024)", _CFLD,
    (("resize", "target: PIL bicubic (antialiased) to 256x176, ToTensor [0, 1]; generated: "
                "bicubic to the target size, x255, clamp, to uint8, / 255 (here: PIL bicubic "
                "when the size differs)", "PisTestDeepFashion / eval"),
     ("ssim", "skimage SSIM, win_size=51 uniform, sample covariance, data_range=1",
      "build_metric.forward"),
     ("ssim_256", "gaussian sigma 1.5, use_sample_covariance=False, x255, data_range = "
                  "generated max - min", "build_metric.forward"),
     ("psnr", "skimage PSNR, data_range=1", "build_metric.forward"),
     ("lpips", "lpips.LPIPS(net='alex')(pred, gt, normalize=True) on [0, 1] (= [-1, 1]), "
               "every image", "build_metric.forward"),
     ("fid", "torchvision Inception v3 (IMAGENET1K_V1) to the average pool, after bilinear "
             "F.interpolate to 299 and x * (std / 0.5) + (mean - 0.5) / 0.5 per channel; real "
             "set = training images PIL-bicubic-resized to 256x176; every image",
      "build_metric.forward_inception / FidRealDeepFashion"),
     ("no l1", "the script computes none", "build_metric.forward")),
    cfld_pairs, lpips=NetRecipe("alex"),
    fid=NetRecipe("torchvision_inception", real_set="real_set"), pair_size=DEEPFASHION))

register(Protocol(
    "pinet", "pinet-tf (this project)", "pinet_tf/metrics/standard.py",
    (("read", "uint8 images as stored, no resize", "pinet_tf.metrics.standard"),
     ("ssim", "Gaussian sigma 1.5, population covariance, data_range 255", "standard.scores"),
     ("l1", "mean |g - t| / 255", "standard.scores"),
     ("psnr", "10 log10(255^2 / MSE), capped at 100 dB", "standard.scores"),
     ("lpips", "LPIPS v0.1 AlexNet on uint8 / 127.5 - 1, every image", "metrics.lpips"),
     ("fid", "Keras InceptionV3 (TF2 ImageNet weights) pool, bilinear tf.image.resize to 299, "
             "real set = the targets (or --real-set), every image", "metrics.inception"),
     ("is", "the same Keras InceptionV3's classifier, 10 splits", "metrics.inception_score")),
    pinet_pairs, lpips=NetRecipe("alex"), fid=NetRecipe("keras_inception", real_set="targets"),
    inception_score=NetRecipe("keras_inception")))
