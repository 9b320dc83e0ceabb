"""quality/nearest.py: each image's nearest training image, and the
median distances that show a generator copying its data."""
import numpy as np

from pyimagesearch.quality.nearest import (copying_report, nearest, pairs,
                                           split_held_out)


def test_nearest_finds_the_closest_image_by_rms_pixel_distance():
    rng = np.random.default_rng(0)
    references = rng.uniform(-1, 1, (300, 4, 4, 1)).astype("float32")
    queries = references[[7, 250]] + 0.01
    index, distance = nearest(queries, references, chunk=1)
    assert list(index) == [7, 250]
    np.testing.assert_allclose(distance, 0.01, rtol=1e-4)
    # brute force on random queries
    queries = rng.uniform(-1, 1, (20, 4, 4, 1))
    index, distance = nearest(queries, references, chunk=7)
    full = np.sqrt(((queries[:, None] - references[None]) ** 2).reshape(
        20, 300, -1).mean(axis=2))
    np.testing.assert_array_equal(index, full.argmin(axis=1))
    np.testing.assert_allclose(distance, full.min(axis=1), rtol=1e-6)


def test_copies_of_the_data_are_much_nearer_than_new_real_images():
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (500, 8, 8, 3)).astype("float32")
    references, held_out = split_held_out(real)
    assert (len(references), len(held_out)) == (450, 50)
    copies = references[:40] + rng.normal(0, 0.01, (40, 8, 8, 3))
    report = copying_report(copies.astype("float32"), real)
    assert report["samples"] < 0.05 < report["held_out"]
    fresh = rng.uniform(-1, 1, (40, 8, 8, 3)).astype("float32")
    honest = copying_report(fresh, real)
    assert abs(honest["samples"] - honest["held_out"]) < 0.1 * \
        honest["held_out"]
    shown = pairs(copies, report, 3)
    assert shown.shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(shown[1], references[report["indices"][0]])
