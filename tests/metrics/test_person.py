"""The person-region L1 and the paint-by-parsing baseline against direct per-pixel loops."""

import numpy as np
import pytest

from pinet_tf.evaluation import baselines
from pinet_tf.metrics.person import background_l1, paint_by_parsing, person_l1


def _loop_paint(src, sp, tp):
    """Reference: the issue's definition, pixel by pixel."""
    h, w, _ = src.shape
    person = [src[y, x].astype(float) for y in range(h) for x in range(w) if sp[y, x] != 0]
    person_mean = np.mean(person, axis=0) if person else src.reshape(-1, 3).mean(0)
    out = np.zeros_like(src)
    for y in range(h):
        for x in range(w):
            c = tp[y, x]
            pix = [src[j, i].astype(float) for j in range(h) for i in range(w) if sp[j, i] == c]
            if pix:
                colour = np.mean(pix, axis=0)
            elif c == 0:
                colour = src.reshape(-1, 3).mean(0)
            else:
                colour = person_mean
            out[y, x] = np.clip(np.round(colour), 0, 255)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paint_by_parsing_matches_the_definition(seed):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 256, (2, 9, 7, 3), dtype=np.uint8)
    sp = rng.integers(0, 5, (2, 9, 7))       # the source lacks classes 5..11
    tp = rng.integers(0, 12, (2, 9, 7))
    sp[1] = np.maximum(sp[1], 1)             # second source: no background at all
    got = paint_by_parsing(src, sp, tp)
    assert got.dtype == np.uint8 and got.shape == src.shape
    for i in range(2):
        np.testing.assert_array_equal(got[i], _loop_paint(src[i], sp[i], tp[i]))
    np.testing.assert_array_equal(paint_by_parsing(src[0], sp[0], tp[0]), got[0])


def test_paint_by_parsing_is_exact_on_flat_people():
    """A person of flat-coloured parts is reproduced exactly in any layout of the same classes."""
    src = np.zeros((1, 6, 4, 3), np.uint8)
    sp = np.zeros((1, 6, 4), int)
    src[0, :2], sp[0, :2] = (200, 10, 10), 2      # upper clothes
    src[0, 2:4], sp[0, 2:4] = (10, 10, 200), 4    # pants
    src[0, 4:], sp[0, 4:] = (240, 240, 240), 0    # wall
    tp = np.zeros((1, 6, 4), int)
    tp[0, 1:3, 1:3], tp[0, 4:, :2] = 4, 2
    target = np.full_like(src, 240)
    target[0][tp[0] == 4], target[0][tp[0] == 2] = (10, 10, 200), (200, 10, 10)
    painted = paint_by_parsing(src, sp, tp)
    np.testing.assert_array_equal(painted, target)
    assert person_l1(painted, target, tp)[0] == 0.0


def test_person_l1_counts_only_the_person():
    target = np.zeros((2, 4, 4, 3), np.uint8)
    pred = np.zeros_like(target)
    pred[:, :2] = 90                     # errors everywhere in the top half
    tp = np.zeros((2, 4, 4), int)
    tp[0, :2, :2] = 3                    # pair 0: 4 person pixels, all wrong by 90
    tp[0, 3, 3] = 1                      # and one right
    got = person_l1(pred, target, tp)
    assert got[0] == pytest.approx(90 * 4 / 5)
    assert np.isnan(got[1])              # pair 1: no person pixel
    bg = background_l1(pred, target, tp)
    assert bg[0] == pytest.approx(90 * 4 / 11)  # 11 background pixels, 4 of them wrong
    assert bg[1] == pytest.approx(90 * 8 / 16)
    # the two regions split the whole picture's L1
    whole = np.abs(pred.astype(float) - target).mean(axis=(1, 2, 3))
    assert got[0] * 5 / 16 + bg[0] * 11 / 16 == pytest.approx(whole[0])


def test_baselines_name_them():
    assert {baselines.PAINT, baselines.PAINT_TRUE, baselines.FLAT_GREY} <= set(
        baselines.DESCRIPTIONS)
    assert baselines.paint_by_parsing is paint_by_parsing


def test_stray_pixels_counts_wrong_pixels_away_from_the_person_only():
    from pinet_tf.metrics.person import stray_pixels

    tp = np.zeros((2, 64, 44), np.int64)
    tp[:, 20:40, 15:25] = 5                     # a person in the middle
    target = np.full((2, 64, 44, 3), 200, np.uint8)
    pred = target.copy()
    pred[0, 41:43, 15:25] = 0                   # a halo right beside the person: within the margin
    pred[0, 58:61, 36:40] = 0                   # a 12-pixel mark in the corner, far from it
    pred[0, 2, 2] = 170                         # a faint error (30 < 40): not counted
    pred[1, 20:40, 15:25] = 0                   # errors inside the person only
    assert stray_pixels(pred, target, tp).tolist() == [12, 0]
    # the margin is a square neighbourhood of the given size
    assert stray_pixels(pred, target, tp, margin=0).tolist() == [12 + 20, 0]
    # with no person at all every wrong pixel is stray
    assert stray_pixels(pred, target, np.zeros_like(tp)).tolist() == [12 + 20, 200]
