"""Appearance measures: exact copy scores perfectly, a blur scores near 0, a wrong print ~0."""

import numpy as np
import pytest

from pinet_tf.config import CLASS_NAMES
from pinet_tf.metrics.appearance import (_gaussian_blur, appearance_measures, high_pass,
                                         pair_measures)

UPPER, FACE, PANTS = (CLASS_NAMES.index(n) for n in ("upper-clothes", "face", "pants"))


def _person(seed=0, stripes=4, checks=3):
    """A 64x48 picture: face block, striped upper garment, checked pants, on white."""
    h, w = 64, 48
    img = np.full((h, w, 3), 240, np.uint8)
    parsing = np.zeros((h, w), np.uint8)
    parsing[4:14, 16:32], img[4:14, 16:32] = FACE, (200, 150, 120)
    rows = np.arange(14, 40)[:, None]
    stripe = ((rows // stripes) % 2 == 0)
    parsing[14:40, 10:38] = UPPER
    img[14:40, 10:38] = np.where(stripe[..., None], (200, 30, 30), (30, 30, 200))
    yy, xx = np.mgrid[40:62, 12:36]
    check = ((yy // checks + xx // checks) % 2 == 0)
    parsing[40:62, 12:36] = PANTS
    img[40:62, 12:36] = np.where(check[..., None], (20, 20, 20), (150, 150, 150))
    return img, parsing


def _blur(img, sigma=3.0):
    return np.stack([_gaussian_blur(img[..., c].astype(float), sigma) for c in range(3)],
                    -1).round().clip(0, 255).astype(np.uint8)


def test_exact_copy_is_perfect():
    img, parsing = _person()
    m = pair_measures(img, img, parsing)
    assert m["colour_error_skin"] == 0 and m["colour_error_upper_clothes"] == 0
    assert m["hf_energy_ratio"] == pytest.approx(1.0)
    assert m["hf_correlation"] == pytest.approx(1.0)
    assert "colour_error_hair" not in m  # no hair pixels


def test_blur_and_flat_fill_lose_the_print_and_keep_the_colour():
    img, parsing = _person()
    blurred = pair_measures(_blur(img, 3.0), img, parsing)
    assert blurred["hf_energy_ratio"] < 0.01 and abs(blurred["hf_correlation"]) < 0.1
    flat = img.copy()  # each garment filled with its own mean colour: right colour, no print
    for cls in (UPPER, PANTS):
        flat[parsing == cls] = img[parsing == cls].mean(0).round().astype(np.uint8)
    f = pair_measures(flat, img, parsing)
    assert f["colour_error_upper_clothes"] < 1 and f["colour_error_lower_clothes"] < 1
    assert f["hf_energy_ratio"] < 0.01 and abs(f["hf_correlation"]) < 0.1


def test_wrong_print_in_the_right_place_is_uncorrelated():
    img, parsing = _person(stripes=4, checks=3)
    other, _ = _person(stripes=3, checks=2)  # same colours, other stripe and check periods
    m = pair_measures(other, img, parsing)
    assert 0.5 < m["hf_energy_ratio"] < 2.0  # as sharp as the target...
    assert m["hf_correlation"] < 0.4           # ...but not the same print


def test_wrong_colour_is_measured_in_rgb_units():
    img, parsing = _person()
    tinted = img.copy()
    tinted[parsing == FACE] = np.array((200, 150, 120)) + (30, 0, 40)
    m = pair_measures(tinted, img, parsing)
    assert m["colour_error_skin"] == pytest.approx(50.0)


def test_aggregate_and_bad_shapes():
    img, parsing = _person()
    agg = appearance_measures([img, _blur(img)], [img, img], [parsing, parsing])
    assert agg["hf_energy_ratio"]["pairs"] == 2
    assert agg["colour_error_skin"]["mean"] == pytest.approx(
        pair_measures(_blur(img), img, parsing)["colour_error_skin"] / 2)
    assert agg["colour_error_skin"]["mean"] > 1
    with pytest.raises(ValueError, match=r"target parsing must be \[H, W\]"):
        pair_measures(img, img, parsing[:10])
    with pytest.raises(ValueError, match="both be"):
        pair_measures(img[..., :2], img, parsing)
    assert high_pass(img).shape == parsing.shape


def test_plain_target_garment_skips_the_print_measures():
    """A garment without print has (near) zero high-pass energy: dividing by it gave ratios in
    the hundreds for any noisy result. Such pairs skip the two print measures, keep colour."""
    target, parsing = _person()
    target[14:62, 10:38] = (90, 120, 60)  # both garments plain
    rng = np.random.default_rng(0)
    noisy = (target.astype(int) + rng.integers(-6, 7, target.shape)).clip(0, 255).astype(np.uint8)
    m = pair_measures(noisy, target, parsing)
    assert "hf_energy_ratio" not in m and "hf_correlation" not in m
    assert m["colour_error_upper_clothes"] < 2
    printed, _ = _person()
    assert "hf_energy_ratio" in pair_measures(printed, printed, parsing)
