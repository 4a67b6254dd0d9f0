import numpy as np
import pytest

from pinet_tf.layers import SymmetricPadding2D
from tests.layers.roundtrip import assert_keras_roundtrip
from tests.numpy_reference import pad


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_padding_matches_numpy(mode):
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype("float32")
    layer = SymmetricPadding2D(2, mode)
    y = np.asarray(layer(x))
    assert y.shape == (2, 9, 8, 3)
    np.testing.assert_array_equal(y, pad(x, 2, mode))


def test_reflect_does_not_repeat_the_edge():
    x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1).repeat(3, axis=1)
    y = np.asarray(SymmetricPadding2D(1, "reflect")(x))
    np.testing.assert_array_equal(y[0, 1, :, 0], [1, 0, 1, 2, 3, 2])


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="padding mode"):
        SymmetricPadding2D(1, "edge")


def test_roundtrip(tmp_path):
    assert_keras_roundtrip(SymmetricPadding2D(3, "reflect"), (1, 8, 6, 2), tmp_path)
