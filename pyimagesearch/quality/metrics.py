"""Sample-quality numbers on the shipped classifier's features: Frechet
distance (FD), kernel inception-style distance (KID) and class coverage.

These are NOT Inception-FID: the features come from a small Fashion-MNIST
classifier, so the numbers compare runs of this project with each other
and with the real-data floor, never with papers."""
import hashlib
import os

import numpy as np

from ..files import atomic_write, cache_dir

NUM_CLASSES = 10


def gaussian_stats(features):
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, cov1, mu2, cov2):
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^1/2).  The trace of the
    square root is taken from the symmetric form C1^1/2 C2 C1^1/2, which
    has the same eigenvalues and stays real."""
    diff = np.asarray(mu1) - np.asarray(mu2)
    root1 = _sqrt_psd(cov1)
    middle = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2)
                 - 2 * trace_sqrt)


def polynomial_mmd2(x, y):
    """Unbiased MMD^2 with the KID kernel k(a, b) = (a.b / d + 1)^3."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
            + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
            - 2 * k_xy.mean())


def kernel_distance(features1, features2, subsets=10, subset_size=1000,
                    seed=0):
    """KID: mean and std of the unbiased MMD^2 over random subsets."""
    rng = np.random.default_rng(seed)
    x = np.asarray(features1, np.float64)
    y = np.asarray(features2, np.float64)
    size = min(subset_size, len(x), len(y))
    values = [polynomial_mmd2(x[rng.choice(len(x), size, replace=False)],
                              y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def class_coverage(predicted, num_classes=NUM_CLASSES):
    """Share of each predicted class, its entropy in bits (log2(10) = 3.32
    is all classes equally often) and the smallest share."""
    shares = np.bincount(predicted, minlength=num_classes) / len(predicted)
    nonzero = shares[shares > 0]
    entropy = max(0.0, float(-(nonzero * np.log2(nonzero)).sum()))  # no -0.0
    return {"shares": shares, "entropy": entropy,
            "min_share": float(shares.min())}


def compare(features, classes, real):
    """All numbers for one set of samples against the real statistics."""
    mu, cov = gaussian_stats(features)
    kid, kid_std = kernel_distance(features, real["features"])
    coverage = class_coverage(classes)
    return {"fd": frechet_distance(mu, cov, real["mu"], real["cov"]),
            "kid": kid, "kid_std": kid_std, "entropy": coverage["entropy"],
            "min_share": coverage["min_share"], "shares": coverage["shares"]}


def real_statistics(extractor, test_images, weights_path):
    """Features, mean and covariance of the real test set, cached on disk
    by the hash of the classifier weights and of the images."""
    digest = hashlib.sha1()
    with open(weights_path, "rb") as f:
        digest.update(f.read())
    digest.update(np.ascontiguousarray(test_images).tobytes())
    path = os.path.join(cache_dir(), f"real-stats-{digest.hexdigest()[:16]}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as cached:
                return {key: cached[key] for key in cached.files}
        except (OSError, ValueError):
            pass        # a damaged cache is recomputed
    features, _ = extractor(test_images)
    mu, cov = gaussian_stats(features)
    stats = {"features": features.astype(np.float32), "mu": mu, "cov": cov}
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **stats))
    except OSError:
        pass            # no cache is slower, not wrong
    return stats
