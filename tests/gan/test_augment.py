"""DiffAugment: the policy's names, each transform's effect per image, the
gradient flowing through, and its random stream held by one variable."""
import numpy as np
import pytest

from pyimagesearch.gan.augment import DiffAugment
from pyimagesearch.gan.policy import parse_policy


def test_policy_names():
    assert parse_policy("cutout,color") == ("color", "cutout")
    assert parse_policy("translation") == ("translation",)
    assert parse_policy(" color , translation,cutout") == (
        "color", "translation", "cutout")
    # flip, ADA's first transform, comes first
    assert parse_policy("cutout,flip") == ("flip", "cutout")
    for bad in ("", "colour", "color,,cutout", ","):
        with pytest.raises(ValueError, match="comma-separated list of flip, "
                                             "color, translation, cutout"):
            parse_policy(bad)


def distinct_images(count=8, size=32, channels=3):
    """Every pixel a different positive value: where each came from shows."""
    values = np.arange(1, count * size * size * channels + 1, dtype="float32")
    return values.reshape(count, size, size, channels) / values.size


def shifted(image, dy, dx):
    """The image moved by (dy, dx): out[y, x] = image[y + dy, x + dx],
    zeros where that is outside."""
    size = image.shape[0]
    out = np.zeros_like(image)
    for y in range(size):
        for x in range(size):
            if 0 <= y + dy < size and 0 <= x + dx < size:
                out[y, x] = image[y + dy, x + dx]
    return out


def test_translation_moves_each_image_up_to_an_eighth():
    images = distinct_images()
    out = DiffAugment(["translation"], seed=1)(images).numpy()
    moves = []
    for image, moved in zip(images, out):
        found = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                 if np.array_equal(moved, shifted(image, dy, dx))]
        assert len(found) == 1
        moves.append(found[0])
    assert len(set(moves)) > 1          # each image draws its own


def test_cutout_zeroes_one_square_of_half_the_side():
    images = distinct_images()
    out = DiffAugment(["cutout"], seed=2)(images).numpy()
    for image, cut in zip(images, out):
        erased = (cut == 0).all(axis=-1)
        rows, cols = np.nonzero(erased)
        assert len(rows) > 0
        # a rectangle (a 16x16 square, clipped at the edges)
        height = rows.max() - rows.min() + 1
        width = cols.max() - cols.min() + 1
        assert erased.sum() == height * width
        assert height <= 16 and width <= 16
        assert (height == 16 or rows.min() == 0 or rows.max() == 31)
        assert (width == 16 or cols.min() == 0 or cols.max() == 31)
        np.testing.assert_array_equal(cut[~erased], image[~erased])


def test_color_changes_each_image_within_the_paper_s_ranges():
    grey = np.zeros((64, 4, 4, 3), "float32")       # mid-grey in [-1, 1]
    out = DiffAugment(["color"], seed=3)(grey).numpy()
    # brightness alone moves a flat grey image: by up to 0.5 either way
    offsets = out[:, 0, 0, 0]
    assert np.abs(offsets).max() <= 0.5
    assert offsets.min() < -0.2 and offsets.max() > 0.2
    assert np.allclose(out, offsets[:, None, None, None])
    # saturation and contrast scale an image about its means
    images = distinct_images(count=64, size=4) * 2 - 1
    out = DiffAugment(["color"], seed=4)(images).numpy()
    assert not np.allclose(out, images)
    assert np.isfinite(out).all()


def test_gradient_flows_through_every_transform():
    import tensorflow as tf
    images = tf.Variable(distinct_images(count=4))

    def gradient(policy):
        layer = DiffAugment(policy, seed=5)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(layer(images) ** 2)
        return tape.gradient(total, images).numpy()

    # the colour transforms mix every pixel with the image's means
    assert (gradient(["color", "translation", "cutout"]) != 0).all()
    # erased and shifted-out pixels get none, the pixels still seen do
    moved = gradient(["translation", "cutout"])
    assert (moved == 0).any() and (moved != 0).any()


def test_the_draws_come_from_the_layer_s_state():
    images = distinct_images(count=4)
    layer = DiffAugment(["color", "translation", "cutout"], seed=6)
    saved = layer.seed_generator.state.numpy()
    first = layer(images).numpy()
    second = layer(images).numpy()
    assert not np.array_equal(first, second)    # the stream moves on
    layer.seed_generator.state.assign(saved)    # as a checkpoint restores
    np.testing.assert_array_equal(layer(images).numpy(), first)
