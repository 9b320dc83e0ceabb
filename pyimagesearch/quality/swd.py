"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al.
2018, "Progressive Growing of GANs", section 5): a quality number that
needs no pretrained network, so it works on any images.

For each pyramid level down to 16x16, 128 random 7x7 patches per image are
taken from both sets, each set's patches are normalised per channel (by
its own mean and standard deviation), and the Wasserstein-1 distance of
the two sets is averaged over 4 x 128 random directions.  Reported x1000
per level and as the mean of the levels: lower is better, 0 is two sets
with the same patch statistics.  By the per-set normalisation it is blind
to one affine colour change (a * x + b per channel) of a whole set."""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.ndimage import convolve1d   # SciPy comes with scikit-learn

PATCH = 7                   # side of a patch (ProGAN's nhood_size)
PATCHES_PER_IMAGE = 128
SMALLEST_LEVEL = 16         # the pyramid stops before sizes below this
REPEATS = 4
DIRECTIONS = 128
SCALE = 1e3
# the 5-tap binomial filter of the Laplacian pyramid, separable
BINOMIAL = np.array([1, 4, 6, 4, 1], np.float32) / 16
# rows projected at a time: keeps the matrix product in cache
CHUNK = 16384


def levels(size):
    """The pyramid's sizes for S x S images: S, S/2, ... while >= 16."""
    sizes = []
    while size >= SMALLEST_LEVEL:
        sizes.append(size)
        size //= 2
    return sizes


def blur(images, weights):
    """The binomial filter along height and width, edges mirrored (d c b |
    a b c d | c b a), as scipy.ndimage.convolve(mode="mirror") does."""
    for axis in (1, 2):
        images = convolve1d(images, weights, axis=axis, mode="mirror")
    return images


def pyramid_down(images):
    return blur(images, BINOMIAL)[:, ::2, ::2]


def pyramid_up(images):
    (n, h, w, c) = images.shape
    spread = np.zeros((n, 2 * h, 2 * w, c), images.dtype)
    spread[:, ::2, ::2] = images
    return blur(spread, 2 * BINOMIAL)       # x4 in 2-D: the zeros between


def laplacian_pyramid(images, num_levels):
    """[band-pass levels..., low-pass]: each level minus the upsampled
    next one; the last level is the blurred, halved image itself."""
    pyramid = [np.asarray(images, np.float32)]
    for _ in range(1, num_levels):
        pyramid.append(pyramid_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyramid_up(pyramid[-1])
    return pyramid


def patch_centres(shape, rng):
    """Where PATCHES_PER_IMAGE random 7x7 patches of each image of a level
    of `shape` lie (whole patches only), as flat indices of their centres
    in one channel's plane, in memory order."""
    (n, h, w, _) = shape
    half = PATCH // 2
    count = n * PATCHES_PER_IMAGE
    ys = rng.integers(half, h - half, size=count)
    xs = rng.integers(half, w - half, size=count)
    image = np.repeat(np.arange(n), PATCHES_PER_IMAGE)
    # in memory order: the same set of patches, gathered far faster
    return np.sort((image * h + ys) * w + xs)


def patch_rows(level, centres, out):
    """The patches at `centres` of each image, written to `out` as (7 * 7 *
    channels, images * 128): row (dy * 7 + dx) * channels + c holds channel
    c at offset (dy, dx) of every patch, each a contiguous gather from one
    channel's plane."""
    (_, _, w, channels) = level.shape
    half = PATCH // 2
    planes = np.ascontiguousarray(np.moveaxis(level, -1, 0)).reshape(
        channels, -1)
    row = 0
    for dy in range(-half, half + 1):
        for dx in range(-half, half + 1):
            where = centres + (dy * w + dx)
            for channel in range(channels):
                np.take(planes[channel], where, out=out[row])
                row += 1
    return out


def normalise(rows, channels):
    """Each channel's values (every channels-th row) to mean 0 and
    standard deviation 1 over all patches of the set."""
    for channel in range(channels):
        values = rows[channel::channels]
        mean = np.einsum("ij->", values, dtype=np.float64) / values.size
        values -= np.float32(mean)
        std = np.sqrt(np.einsum("ij,ij->", values, values,
                                dtype=np.float64) / values.size)
        values /= np.float32(std + 1e-8)
    return rows


def sort_projections(rows, directions, out):
    """Each direction's projections of all patches (columns of `rows`),
    sorted, into `out` (directions, patches)."""
    across = np.ascontiguousarray(directions.T)
    for start in range(0, rows.shape[1], CHUNK):
        np.matmul(across, rows[:, start:start + CHUNK],
                  out=out[:, start:start + CHUNK])
    # numpy sorts on one core: a share of the directions per core
    cores = max(1, min(len(out), os.cpu_count() or 1))
    shares = np.array_split(np.arange(len(out)), cores)
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(lambda share: out[share[0]:share[-1] + 1].sort(axis=1),
                      shares))
    return out


def sliced_wasserstein(a, others, rng, buffers):
    """For each of `others`, the mean over REPEATS x DIRECTIONS random unit
    directions of the Wasserstein-1 distance between its projections and
    a's (sets of equal size: the mean gap between their sorted values).
    a and each of others: patch descriptors as columns.  a's projections
    are sorted once a direction set, for all of them."""
    results = [[] for _ in others]
    for _ in range(REPEATS):
        directions = rng.standard_normal((len(a), DIRECTIONS))
        directions /= np.sqrt((directions ** 2).sum(axis=0, keepdims=True))
        directions = directions.astype(np.float32)
        projected_a = sort_projections(a, directions, buffers[0])
        for b, distances in zip(others, results):
            projected_b = sort_projections(b, directions, buffers[1])
            np.subtract(projected_a, projected_b, out=projected_b)
            np.abs(projected_b, out=projected_b)
            distances.append(np.einsum("ij->", projected_b, dtype=np.float64)
                             / projected_b.size)
    return [float(np.mean(distances)) for distances in results]


def memory_bytes(count, size, channels, sets=2):
    """About what swd_each() holds for `sets` sets of `count` images (the
    real ones and sets - 1 generated ones): their pyramids and patch
    descriptors, and two sets' sorted projections (float32)."""
    patches = count * PATCHES_PER_IMAGE
    pyramids = sets * 2 * count * size * size * channels
    return 4 * (pyramids + patches * (sets * PATCH * PATCH * channels
                                      + 2 * DIRECTIONS))


def check_size(size):
    if size < SMALLEST_LEVEL:
        from ..errors import UserError
        raise UserError(f"the sliced Wasserstein distance needs images of "
                        f"at least {SMALLEST_LEVEL}x{SMALLEST_LEVEL} (its "
                        f"pyramid stops at 16), these are {size}x{size}")


def swd(real_images, fake_images, seed=0):
    """{"levels": {size: SWD x1000}, "swd": their mean} of two sets of
    equally many NHWC images of the same shape (any value range)."""
    return swd_each(real_images, [fake_images], seed)[0]


def swd_each(real_images, fake_sets, seed=0):
    """swd(real_images, fake_images, seed) of each of `fake_sets`, the same
    numbers, with the real images' side done once (for two sets, a quarter
    of the work of two swd() calls saved)."""
    fake_sets = list(fake_sets)
    for fake_images in fake_sets:
        if real_images.shape != fake_images.shape:
            raise ValueError(f"two sets of the same shape are compared, got "
                             f"{real_images.shape} and {fake_images.shape}")
    size = real_images.shape[1]
    check_size(size)
    rng = np.random.default_rng(seed)
    sizes = levels(size)
    pyramids = [laplacian_pyramid(images, len(sizes))
                for images in [real_images] + fake_sets]
    # allocated once: fresh memory costs more than the work on it
    (n, _, _, channels) = real_images.shape
    shape = (PATCH * PATCH * channels, n * PATCHES_PER_IMAGE)
    rows = [np.empty(shape, np.float32) for _ in pyramids]
    projected = [np.empty((DIRECTIONS, shape[1]), np.float32)
                 for _ in range(2)]
    distances = [{} for _ in fake_sets]
    for number, level_size in enumerate(sizes):
        # the real patches' places, then the generated ones' (every set's
        # the same: the same draws for the same shape)
        real_centres = patch_centres(pyramids[0][number].shape, rng)
        fake_centres = patch_centres(pyramids[0][number].shape, rng)
        for index, (pyramid, out) in enumerate(zip(pyramids, rows)):
            normalise(patch_rows(pyramid[number], real_centres if index == 0
                                 else fake_centres, out), channels)
        each = sliced_wasserstein(rows[0], rows[1:], rng, projected)
        for result, distance in zip(distances, each):
            result[level_size] = SCALE * distance
    return [{"levels": result, "swd": float(np.mean(list(result.values())))}
            for result in distances]


def real_floor(real_images, seed=0):
    """The SWD of two disjoint halves of the real images: what real
    images score against real images, at half the count."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real_images))
    half = len(real_images) // 2
    return swd(real_images[order[:half]], real_images[order[half:2 * half]],
               seed)
