"""The metric math on known answers."""
import numpy as np
import pytest

from pyimagesearch.quality import metrics


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    mu, cov = metrics.gaussian_stats(a)
    assert metrics.frechet_distance(mu, cov, mu, cov) == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize("c,d", [(0.5, 4), (2.0, 16), (3.0, 1)])
def test_mean_shift_gives_c_squared_d(c, d):
    mu = np.zeros(d)
    cov = np.eye(d)
    assert metrics.frechet_distance(mu, cov, mu + c, cov) == pytest.approx(c * c * d)


def test_covariance_term_matches_closed_form():
    # for diagonal covariances the trace term is sum (sqrt(a) - sqrt(b))^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    fd = metrics.frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b))
    assert fd == pytest.approx(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    # and for non-commuting full covariances it agrees with the usual formula
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    c1, c2 = m1 @ m1.T + np.eye(4), m2 @ m2.T + np.eye(4)
    values, vectors = np.linalg.eig(c1 @ c2)
    expected = np.trace(c1) + np.trace(c2) - 2 * np.sqrt(values).real.sum()
    assert metrics.frechet_distance(np.zeros(4), c1, np.zeros(4), c2) == \
        pytest.approx(expected)


def test_mmd_matches_brute_force():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 3)), rng.normal(1, 1, size=(5, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / 42
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    xy = sum(k(a, b) for a in x for b in y) / 35
    assert metrics.polynomial_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy)


def test_kid_near_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    same, _ = metrics.kernel_distance(a, b, subsets=5, subset_size=500)
    shifted, _ = metrics.kernel_distance(a, b + 1.0, subsets=5, subset_size=500)
    assert abs(same) < 0.05 and shifted > 20 * abs(same) and shifted > 0.5


def test_class_coverage():
    uniform = metrics.class_coverage(np.repeat(np.arange(10), 30))
    assert uniform["entropy"] == pytest.approx(np.log2(10))
    assert uniform["min_share"] == pytest.approx(0.1)
    collapsed = metrics.class_coverage(np.full(50, 3))
    assert collapsed["entropy"] == 0 and collapsed["min_share"] == 0
    assert collapsed["shares"][3] == 1
    half = metrics.class_coverage(np.array([0, 1] * 10))
    assert half["entropy"] == pytest.approx(1.0)


def test_real_statistics_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"weights v1")
    calls = []

    def extractor(images):
        calls.append(len(images))
        return images.reshape(len(images), -1).astype(float), None

    images = np.random.default_rng(4).normal(size=(50, 2, 2, 1))
    first = metrics.real_statistics(extractor, images, str(weights))
    second = metrics.real_statistics(extractor, images, str(weights))
    assert calls == [50]
    np.testing.assert_allclose(first["cov"], second["cov"])
    weights.write_bytes(b"weights v2")       # new classifier: new cache entry
    metrics.real_statistics(extractor, images, str(weights))
    assert calls == [50, 50]
