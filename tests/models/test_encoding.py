import numpy as np

from pinet_tf.models.encoding import (float_to_uint8, image_to_float, keypoints_to_heatmaps,
                               parsing_to_onehot)


def test_image_round_trip_is_exact():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, -1)
    f = np.asarray(image_to_float(x))
    assert f.min() == -1.0 and f.max() == 1.0
    np.testing.assert_array_equal(np.asarray(float_to_uint8(f)), x)


def test_heatmap_gaussian_and_missing_points():
    kp = np.full((1, 18, 2), -1, np.float32)
    kp[0, 3] = (5, 7)
    h = np.asarray(keypoints_to_heatmaps(kp, 12, 10, 2.0))
    assert h.shape == (1, 12, 10, 18)
    assert np.unravel_index(h[0, ..., 3].argmax(), (12, 10)) == (5, 7)
    assert h[0, 5, 7, 3] == 1.0
    np.testing.assert_allclose(h[0, 5, 9, 3], np.exp(-4 / 8), rtol=1e-6)
    assert h[0, ..., 0].max() == 0.0


def test_onehot():
    p = np.array([[0, 11], [3, 3]], np.uint8)
    o = np.asarray(parsing_to_onehot(p))
    assert o.shape == (2, 2, 12)
    np.testing.assert_array_equal(o.sum(-1), 1)
    assert o[0, 1, 11] == 1 and o[1, 0, 3] == 1
