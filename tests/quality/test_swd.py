"""The sliced Wasserstein distance: against a direct, slow implementation
of ProGAN's definition on tiny inputs, and for its basic properties."""
import numpy as np
import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.quality import swd

KERNEL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


def mirror(index, length):
    """scipy's "mirror" edge: d c b | a b c d | c b a."""
    if index < 0:
        return -index
    if index >= length:
        return 2 * (length - 1) - index
    return index


def convolve(image, kernel):
    (h, w, c) = image.shape
    out = np.zeros_like(image)
    for y in range(h):
        for x in range(w):
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    out[y, x] += kernel[dy + 2, dx + 2] * image[
                        mirror(y + dy, h), mirror(x + dx, w)]
    return out


def slow_pyramid(image, levels):
    pyramid = [image.astype(np.float64)]
    for _ in range(1, levels):
        down = convolve(pyramid[-1], KERNEL)[::2, ::2]
        spread = np.zeros_like(pyramid[-1])
        spread[::2, ::2] = down
        pyramid[-1] = pyramid[-1] - convolve(spread, 4 * KERNEL)
        pyramid.append(down)
    return pyramid


def slow_descriptors(levels_of_images, rng):
    """Draws in the order swd.swd makes them: rows, then columns, of all
    patches of the set."""
    n = len(levels_of_images)
    (h, w, c) = levels_of_images[0].shape
    count = n * swd.PATCHES_PER_IMAGE
    ys = rng.integers(3, h - 3, size=count)
    xs = rng.integers(3, w - 3, size=count)
    patches = []
    for index in range(count):
        image = levels_of_images[index // swd.PATCHES_PER_IMAGE]
        y, x = ys[index], xs[index]
        patches.append(image[y - 3:y + 4, x - 3:x + 4, :])
    patches = np.array(patches)
    for channel in range(c):
        values = patches[..., channel]
        patches[..., channel] = (values - values.mean()) / values.std()
    return patches.reshape(count, -1)


def slow_swd(real, fake, seed):
    rng = np.random.default_rng(seed)
    sizes = swd.levels(real.shape[1])
    pyramids = [[slow_pyramid(image, len(sizes)) for image in images]
                for images in (real, fake)]
    result = {}
    for number, size in enumerate(sizes):
        a = slow_descriptors([p[number] for p in pyramids[0]], rng)
        b = slow_descriptors([p[number] for p in pyramids[1]], rng)
        distances = []
        for _ in range(swd.REPEATS):
            directions = rng.standard_normal((a.shape[1], swd.DIRECTIONS))
            directions /= np.sqrt((directions ** 2).sum(axis=0))
            for k in range(swd.DIRECTIONS):
                pa = np.sort(a @ directions[:, k])
                pb = np.sort(b @ directions[:, k])
                distances.append(np.abs(pa - pb).mean())
        result[size] = 1e3 * np.mean(distances)
    return result


@pytest.mark.parametrize("shape", [(3, 32, 32, 3), (2, 16, 16, 1),
                                   (2, 20, 20, 3)])
def test_matches_the_definition(shape):
    rng = np.random.default_rng(0)
    real = rng.random(shape, dtype=np.float32)
    fake = np.clip(real + 0.3 * rng.standard_normal(shape), 0, 1).astype(
        np.float32)
    fast = swd.swd(real, fake, seed=5)
    slow = slow_swd(real, fake, seed=5)
    assert list(fast["levels"]) == list(slow)
    for size in slow:
        assert fast["levels"][size] == pytest.approx(slow[size], rel=2e-3)
    assert fast["swd"] == pytest.approx(np.mean(list(slow.values())),
                                        rel=2e-3)


def test_sets_measured_together_score_as_measured_alone():
    rng = np.random.default_rng(1)
    real = rng.random((40, 32, 32, 3), dtype=np.float32)
    fakes = [rng.random(real.shape, dtype=np.float32),
             np.clip(real + 0.1 * rng.standard_normal(real.shape), 0,
                     1).astype(np.float32)]
    together = swd.swd_each(real, fakes, seed=3)
    assert together == [swd.swd(real, fake, seed=3) for fake in fakes]
    assert together[1]["swd"] < together[0]["swd"]
    with pytest.raises(ValueError, match="of the same shape"):
        swd.swd_each(real, [fakes[0], fakes[1][:, :16, :16]])


def test_levels_stop_at_16():
    assert swd.levels(64) == [64, 32, 16]
    assert swd.levels(32) == [32, 16]
    assert swd.levels(28) == [28]
    assert swd.levels(16) == [16]
    with pytest.raises(UserError, match="at least 16x16"):
        swd.swd(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)))


def shapes_set(count=256, size=32, seed=0):
    """Images with structure at every scale: random bright rectangles on
    a dark ground, in colour."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size, 3), np.float32)
    for image in images:
        for _ in range(4):
            (y, x) = rng.integers(0, size - 6, 2)
            (h, w) = rng.integers(3, 12, 2)
            image[y:y + h, x:x + w] = rng.random(3)
    return images


def blurred(images):
    return swd.blur(swd.blur(images, swd.BINOMIAL), swd.BINOMIAL)


def test_properties():
    real = shapes_set(seed=0)
    other = shapes_set(seed=1)          # the same kind of images
    itself = swd.swd(real, other)["swd"]
    rng = np.random.default_rng(2)
    noisy = np.clip(other + 0.2 * rng.standard_normal(other.shape), 0, 1)
    recoloured = other.copy()
    recoloured[: len(other) // 2] = recoloured[: len(other) // 2, ..., ::-1]
    recoloured[: len(other) // 2, ..., 0] = 1 - recoloured[
        : len(other) // 2, ..., 0]
    blur = swd.swd(real, blurred(other))["swd"]
    noise = swd.swd(real, noisy.astype(np.float32))["swd"]
    colours = swd.swd(real, recoloured)["swd"]
    # near zero for the same kind of images, growing with each change
    assert itself < 0.4 * min(blur, noise, colours), (itself, blur, noise,
                                                      colours)
    more_blur = swd.swd(real, blurred(blurred(other)))["swd"]
    assert more_blur > blur
    # one affine colour change of the whole set is normalised away
    affine = 0.5 * other + 0.25
    assert swd.swd(real, affine)["swd"] == pytest.approx(itself, rel=1e-3)


def test_floor_is_two_disjoint_halves():
    images = shapes_set(count=40)
    floor = swd.real_floor(images, seed=3)
    order = np.random.default_rng(3).permutation(40)
    expected = swd.swd(images[order[:20]], images[order[20:]], seed=3)
    assert floor == expected


def test_needs_two_sets_of_one_shape():
    with pytest.raises(ValueError, match="same shape"):
        swd.swd(np.zeros((4, 16, 16, 3)), np.zeros((3, 16, 16, 3)))
