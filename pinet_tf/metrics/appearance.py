"""Appearance measures: does a result carry the person's colours and garment print into the pose?

L1, SSIM and PSNR reward a blurred average as much as a sharp picture of the wrong print, so the
quality benchmark (`benchmarks/quality.py`) also measures, inside the ground-truth target regions:

- **mean-colour error** per region (skin, hair, upper clothes, lower clothes): the distance in
  0..255 RGB between the mean colour of the result and of the target over the region's pixels.
  A model that keeps skin tone and garment colour scores near 0 whatever its sharpness.
- **high-frequency energy ratio** in the garment regions: high-pass energy (the image minus its
  Gaussian blur, on luminance) of the result divided by the target's. A blurred result scores near
  0, a sharp one near 1 (above 1: noise or a print sharper than the target's).
- **high-pass correlation** in the garment regions: the Pearson correlation of the two high-pass
  signals. Near 1 only when the right print is in the right place; a blur or a wrong print scores
  near 0.

The garment masks are eroded by the blur's reach before measuring, so the silhouette's own edge
(which even a blurred person has) does not count as texture. Pairs whose region has fewer than
`min_pixels` pixels skip that region, and pairs whose target garment has no print (high-pass RMS
below `MIN_PRINT_RMS` grey levels: a plain garment, where the ratio would divide by rounding
noise and the correlation would correlate noise) skip the two high-frequency measures. NumPy only.
"""

from __future__ import annotations

import numpy as np

from pinet_tf.config import CLASS_NAMES

_ID = {name: i for i, name in enumerate(CLASS_NAMES)}

#: Colour regions: name -> parsing class ids (the 12 classes of `pinet_tf.config.CLASS_NAMES`).
COLOUR_REGIONS = {
    "skin": (_ID["face"], _ID["hands"], _ID["legs"], _ID["neck"]),
    "hair": (_ID["hair"],),
    "upper_clothes": (_ID["upper-clothes"], _ID["dress"]),
    "lower_clothes": (_ID["pants"], _ID["skirt"]),
}
#: Garment regions, where a print can be measured.
GARMENT_CLASSES = (_ID["upper-clothes"], _ID["dress"], _ID["pants"], _ID["skirt"])
#: Gaussian sigma (pixels) of the low-pass that the high-pass subtracts.
HIGH_PASS_SIGMA = 1.0
#: A target garment counts as printed when its high-pass RMS (0..255 luminance) reaches this.
MIN_PRINT_RMS = 2.0


def _gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of [H, W] float with reflected borders."""
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, radius, mode="reflect")
    rows = sum(k[i] * padded[i:i + x.shape[0], :] for i in range(len(k)))
    return sum(k[i] * rows[:, i:i + x.shape[1]] for i in range(len(k)))


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion with a 3x3 cross, `steps` times (pixels outside the picture count as off)."""
    m = mask.copy()
    for _ in range(steps):
        p = np.pad(m, 1, constant_values=False)
        m = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m


def _luminance(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114])


def high_pass(image: np.ndarray, sigma: float = HIGH_PASS_SIGMA) -> np.ndarray:
    """uint8 [H, W, 3] -> float [H, W]: luminance minus its Gaussian blur."""
    lum = _luminance(image)
    return lum - _gaussian_blur(lum, sigma)


def _check(result, target, parsing):
    result, target, parsing = np.asarray(result), np.asarray(target), np.asarray(parsing)
    if result.shape != target.shape or result.ndim != 3 or result.shape[-1] != 3:
        raise ValueError(f"result and target must both be [H, W, 3], got {result.shape} and "
                         f"{target.shape}")
    if parsing.shape != result.shape[:2]:
        raise ValueError(f"target parsing must be [H, W] = {result.shape[:2]}, got "
                         f"{parsing.shape}")
    return result, target, parsing


def pair_measures(result, target, target_parsing, min_pixels: int = 20) -> dict:
    """The measures of one pair; a region with too few pixels is absent from the dict."""
    result, target, parsing = _check(result, target, target_parsing)
    out = {}
    for name, classes in COLOUR_REGIONS.items():
        mask = np.isin(parsing, classes)
        if mask.sum() >= min_pixels:
            diff = result[mask].astype(np.float64).mean(0) - target[mask].astype(np.float64).mean(0)
            out[f"colour_error_{name}"] = float(np.linalg.norm(diff))
    garment = _erode(np.isin(parsing, GARMENT_CLASSES), int(np.ceil(2 * HIGH_PASS_SIGMA)) + 1)
    if garment.sum() >= min_pixels:
        hr, ht = high_pass(result)[garment], high_pass(target)[garment]
        energy_t = float(np.sum(ht ** 2))
        if energy_t >= MIN_PRINT_RMS ** 2 * ht.size:
            out["hf_energy_ratio"] = float(np.sum(hr ** 2)) / energy_t
            denom = np.sqrt(np.sum((hr - hr.mean()) ** 2) * np.sum((ht - ht.mean()) ** 2))
            out["hf_correlation"] = float(np.sum((hr - hr.mean()) * (ht - ht.mean())) / denom) \
                if denom > 0 else 0.0
    return out


def appearance_measures(results, targets, target_parsings, min_pixels: int = 20) -> dict:
    """Mean of each measure over the pairs that have it, and how many pairs that was."""
    sums, counts = {}, {}
    for r, t, p in zip(results, targets, target_parsings):
        for key, value in pair_measures(r, t, p, min_pixels).items():
            sums[key] = sums.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
    return {key: {"mean": sums[key] / counts[key], "pairs": counts[key]} for key in sorted(sums)}
