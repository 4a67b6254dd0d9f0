"""FID: Frechet distance vs a SciPy reference, streaming statistics, the Keras metric."""

import numpy as np
import pytest
import scipy.linalg

from pinet_tf.metrics import FID, FeatureStatistics, fid, fid_from_features, frechet_distance


def scipy_reference_fid(f1, f2):
    """The usual formula with scipy.linalg.sqrtm and np.cov (pytorch-fid style)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_reference_on_random_features():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 16))
    b = rng.normal(size=(250, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 0.7
    ref = scipy_reference_fid(a, b)
    assert ref > 1.0
    assert fid_from_features(a, b) == pytest.approx(ref, rel=1e-8)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)  # FID(A, A) ~ 0
    # Closed form for diagonal Gaussians: |dmu|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)).
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 3 + sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    assert frechet_distance(np.ones(3), np.diag(v1), np.zeros(3), np.diag(v2)) == \
        pytest.approx(expected, rel=1e-10)


def test_streaming_statistics_equal_whole_set_and_singular_covariance_is_finite():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(50, 8)) * 3 + 1
    s = FeatureStatistics(8)
    for i in range(0, 50, 7):
        s.update(f[i:i + 7])
    mu, cov = s.mean_cov()
    np.testing.assert_allclose(mu, f.mean(0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(f, rowvar=False), atol=1e-10)
    # Fewer samples than dimensions: rank-deficient covariances still give a finite distance.
    few = rng.normal(size=(5, 32))
    assert np.isfinite(fid_from_features(few, few + 0.1))
    with pytest.raises(ValueError, match=r"expected features \[N,8\]"):
        s.update(np.zeros((2, 9)))
    with pytest.raises(ValueError, match="at least 2 images"):
        fid_from_features(f[:1], f)


def _projection_network(seed=0, dim=12):
    """A fixed random feature extractor: image pixels -> [B, dim] (stands in for Inception)."""
    import tensorflow as tf
    w = tf.constant(np.random.default_rng(seed).normal(size=(8 * 6 * 3, dim)), tf.float32)

    def net(images):
        x = tf.cast(images, tf.float32)
        x = tf.image.resize(x, (8, 6))
        return {"pool": tf.tanh(tf.reshape(x, [tf.shape(x)[0], -1]) @ w / 50.0)}
    return net, dim


def test_fid_metric_streams_and_equals_reference_on_the_same_features():
    rng = np.random.default_rng(2)
    real = rng.uniform(-1, 1, (40, 16, 12, 3)).astype(np.float32)
    fake = np.clip(real * 0.5 + rng.normal(0, 0.4, real.shape), -1, 1).astype(np.float32)
    net, dim = _projection_network()
    m = FID(network=net, dim=dim)
    for i in range(0, 40, 16):
        m.update_state(real[i:i + 16], fake[i:i + 16])
    fr, ff = np.asarray(net(real)["pool"], np.float64), np.asarray(net(fake)["pool"], np.float64)
    ref = scipy_reference_fid(fr, ff)
    assert float(m.result()) == pytest.approx(ref, rel=1e-4)
    assert fid(real, fake, network=net, batch_size=9) == pytest.approx(ref, rel=1e-6)
    m.reset_state()
    m.update_state(real, real)
    assert abs(float(m.result())) < 1e-6
    # Precomputed real statistics: only the fakes stream through.
    fixed = FID(network=net, dim=dim, real_statistics=(fr.mean(0), np.cov(fr, rowvar=False)))
    fixed.update_state(None, fake)
    assert float(fixed.result()) == pytest.approx(ref, rel=1e-4)


def test_fid_metrics_fed_features_share_one_real_set():
    """Several generated sets scored against one real set through `update_features`; each
    equals the reference, and a metric with other real images is not given the cached root."""
    rng = np.random.default_rng(5)
    real = rng.normal(size=(60, 12))
    fakes = [real + rng.normal(0, s, real.shape) for s in (0.1, 0.5, 1.0)]
    metrics = [FID(dim=12) for _ in fakes]  # no network: never built when fed features
    for i in range(0, 60, 25):
        for m, f in zip(metrics, fakes):
            m.update_features(real[i:i + 25], f[i:i + 25])
    for m, f in zip(metrics, fakes):
        assert float(m.result()) == pytest.approx(scipy_reference_fid(real, f), rel=1e-4)
    other = FID(dim=12)
    other.update_features(fakes[2], real)
    assert float(other.result()) == pytest.approx(scipy_reference_fid(fakes[2], real), rel=1e-4)
    assert float(metrics[0].result()) == pytest.approx(scipy_reference_fid(real, fakes[0]),
                                                       rel=1e-4)


def test_inception_network_from_a_weights_file(tmp_path):
    """keras.applications InceptionV3 built from a local file that the test writes (Keras 3
    writes `.weights.h5`; the downloaded legacy `.h5` files load the same way)."""
    import keras

    from pinet_tf.metrics.inception import InceptionNetwork

    base = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                          input_shape=(299, 299, 3))
    path = tmp_path / "inception_notop.weights.h5"
    base.save_weights(str(path))
    net = InceptionNetwork(str(path), include_top=False)
    x = np.random.default_rng(3).integers(0, 256, (2, 64, 44, 3), dtype=np.uint8)
    feats = np.asarray(net(x)["pool"])
    assert feats.shape == (2, 2048) and np.all(np.isfinite(feats)) and np.all(feats >= 0)
    ref = base(np.asarray(
        __import__("tensorflow").image.resize(x.astype(np.float32) / 127.5 - 1, (299, 299))))
    np.testing.assert_allclose(feats, np.asarray(ref), rtol=1e-4, atol=1e-5)


def test_missing_inception_weights_name_the_file_and_the_folders(tmp_path, monkeypatch):
    from pinet_tf.metrics import WeightsNotFoundError
    from pinet_tf.utils.weights import ENV_DIR as ENV_VAR
    from pinet_tf.metrics.inception import NOTOP_FILE, InceptionNetwork

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsNotFoundError) as e:
        InceptionNetwork(include_top=False)
    assert NOTOP_FILE in str(e.value) and str(tmp_path) in str(e.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InceptionNetwork(str(tmp_path / "nope.h5"), include_top=False)
