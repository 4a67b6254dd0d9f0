"""Fitting photos of any size into the model's frame and back (pinet_tf.inference.frame)."""

import numpy as np
import pytest

from pinet_tf.inference.frame import Fit

SIZES = [(32, 22), (30, 25), (50, 20), (20, 50), (64, 44), (100, 40), (200, 300)]


def _random_kp(rng, h, w):
    kp = np.stack([rng.uniform(0, h - 1, 18), rng.uniform(0, w - 1, 18)], 1).astype(np.float32)
    kp[[2, 9]] = -1
    return kp


@pytest.mark.parametrize("mode", ["pad", "crop"])
@pytest.mark.parametrize("size", SIZES)
def test_keypoints_round_trip(size, mode):
    h, w = size
    fit = Fit.make(h, w, 64, 44, mode)
    kp = _random_kp(np.random.default_rng(h * w), h, w)
    m = fit.keypoints(kp)
    inside = (m >= 0).all(axis=1)
    assert not inside[[2, 9]].any()
    assert (m[inside] <= [63, 43]).all()
    if mode == "pad":
        assert inside.sum() == 16      # padding never loses a point
    back = fit.keypoints_back(m)
    # Exact, but for points within half a pixel of the frame's edge (clamped onto it).
    edge = inside & ((m == 0) | (m == [63, 43])).any(axis=1)
    np.testing.assert_allclose(back[inside & ~edge], kp[inside & ~edge], atol=1e-3)
    np.testing.assert_allclose(back[edge], kp[edge], atol=0.5 / min(fit.scale_y, fit.scale_x))
    np.testing.assert_array_equal(back[~inside], -1)


@pytest.mark.parametrize("mode", ["pad", "crop"])
@pytest.mark.parametrize("size", [(32, 22), (30, 25), (50, 20), (20, 17), (64, 44)])
def test_parsing_round_trip_is_exact_when_the_model_frame_is_larger(size, mode):
    h, w = size
    fit = Fit.make(h, w, 64, 44, mode)
    labels = np.random.default_rng(0).integers(0, 12, (h, w)).astype(np.uint8)
    m = fit.parsing(labels)
    assert m.shape == (64, 44) and m.dtype == np.uint8
    np.testing.assert_array_equal(fit.parsing_back(m, labels), labels)


@pytest.mark.parametrize("mode", ["pad", "crop"])
def test_parsing_round_trip_of_a_large_photo_keeps_regions(mode):
    h, w = 256, 176 + 40
    labels = np.zeros((h, w), np.uint8)
    labels[40:200, 60:150] = 2
    labels[200:250, 70:140] = 4
    labels[10:40, 80:130] = 7
    fit = Fit.make(h, w, 64, 44, mode)
    back = fit.parsing_back(fit.parsing(labels), labels)
    assert (back == labels).mean() > 0.97


def test_image_parsing_and_keypoints_move_together():
    """A marked pixel at a keypoint lands on the mapped keypoint in image and parsing alike."""
    for (h, w), mode in [((100, 40), "pad"), ((100, 40), "crop"), ((40, 90), "pad"),
                         ((30, 25), "crop")]:
        fit = Fit.make(h, w, 64, 44, mode)
        y, x = h // 2 + 3, w // 2 - 2
        image = np.zeros((h, w, 3), np.uint8)
        image[y - 1:y + 2, x - 1:x + 2] = 255
        labels = np.zeros((h, w), np.uint8)
        labels[y - 1:y + 2, x - 1:x + 2] = 5
        kp = np.full((18, 2), -1, np.float32)
        kp[0] = (y, x)
        my, mx = fit.keypoints(kp)[0]
        img_m, lab_m = fit.image(image), fit.parsing(labels)
        assert img_m.shape == (64, 44, 3) and lab_m.shape == (64, 44)
        by, bx = np.argwhere(img_m[..., 0] > 128).mean(axis=0)
        assert abs(by - my) <= 1 and abs(bx - mx) <= 1, (h, w, mode)
        ly, lx = np.argwhere(lab_m == 5).mean(axis=0)
        assert abs(ly - my) <= 1 and abs(lx - mx) <= 1, (h, w, mode)


def test_pad_mode_keeps_the_whole_photo_and_maps_back():
    h, w = 40, 90
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([yy * 5, xx * 2, (yy + xx) % 256], -1).astype(np.uint8)
    fit = Fit.make(h, w, 64, 44, "pad")
    assert fit.scaled_width == 44 and fit.offset_x == 0 and fit.offset_y > 0
    m = fit.image(image)
    # Padding is one colour, the median of the photo's border.
    from pinet_tf.inference.frame import background_colour
    assert (m[:fit.offset_y] == background_colour(image)).all()
    back = fit.image_back(m)
    assert back.shape == image.shape
    assert np.abs(back.astype(int) - image).mean() < 6     # a smooth ramp survives the trip


def test_crop_mode_maps_back_into_the_photo():
    h, w = 40, 90
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    fit = Fit.make(h, w, 64, 44, "crop")
    assert fit.scaled_height == 64 and fit.offset_x < 0
    result = np.zeros((64, 44, 3), np.uint8)
    back = fit.image_back(result, image)
    assert back.shape == image.shape
    # The model saw the middle only: the margins come from the photo, the middle is the result.
    assert (back[:, w // 2 - 5:w // 2 + 5] == 0).all()
    assert np.abs(back[:, :10].astype(int) - image[:, :10]).mean() < 40
    with pytest.raises(ValueError, match="original photo"):
        fit.image_back(result)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fit mode"):
        Fit.make(10, 10, 64, 44, "stretch")
    with pytest.raises(ValueError, match="image is 10x12, this fit is for 10x10"):
        Fit.make(10, 10, 64, 44).image(np.zeros((10, 12, 3), np.uint8))


@pytest.mark.parametrize("size", [(200, 300), (100, 40), (30, 25)])
def test_keypoints_on_the_photo_edge_stay_present(size):
    h, w = size
    fit = Fit.make(h, w, 64, 44, "pad")
    kp = np.full((18, 2), -1, np.float32)
    kp[0], kp[1] = (0, 0), (h - 1, w - 1)
    m = fit.keypoints(kp)
    assert (m[:2] >= 0).all() and (m[:2, 0] <= 63).all() and (m[:2, 1] <= 43).all()
    np.testing.assert_allclose(fit.keypoints_back(m)[:2], kp[:2], atol=0.5 / min(
        fit.scale_y, fit.scale_x) + 1e-3)


def test_pad_uses_the_background_colour_not_edge_pixels():
    from pinet_tf.inference.frame import background_colour

    photo = np.zeros((64, 20, 3), np.uint8)
    photo[:] = (200, 190, 180)                 # the wall
    photo[10:64, 0:6] = (255, 0, 0)            # a red sleeve touching the left edge
    np.testing.assert_array_equal(background_colour(photo), (200, 190, 180))
    fit = Fit.make(64, 20, 64, 44, "pad")
    out = fit.image(photo)
    assert fit.offset_x > 0
    np.testing.assert_array_equal(out[40, 0], (200, 190, 180))   # not the sleeve's red
    np.testing.assert_array_equal(out[5, -1], (200, 190, 180))


def test_crop_reports_and_refuses_cut_keypoints(capsys):
    from pinet_tf.inference import pipeline

    fit = Fit.make(64, 120, 64, 44, "crop")   # a wide photo: the sides are cut
    kp = np.full((18, 2), -1.0, np.float32)
    kp[:8] = [[10 + 5 * i, 40 + 5 * i] for i in range(8)]   # x 40..75: inside the middle
    kp[8] = (30, 2)                                          # far left: cut off
    pipeline._require_pose(fit.keypoints(kp), "me.png", fit, kp)
    assert "me.png: --fit crop cut off right_hip (8 keypoints kept)" in capsys.readouterr().err
    assert fit.cut_keypoints(kp) == [8]
    kp[3:8] = (30, 115)                                      # most of them at the right edge
    with pytest.raises(ValueError, match="cuts off .* leaving 3 keypoints .* use --fit pad"):
        pipeline._require_pose(fit.keypoints(kp), "me.png", fit, kp)
