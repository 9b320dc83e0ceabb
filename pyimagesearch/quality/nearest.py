"""Is it copying?  Each generated image's nearest training image by pixel
distance (root mean square over the pixels, in [-1, 1], at the run's
size), beside the same for real images held out of the reference set: a
generator that memorises its data gives samples much nearer their
neighbours than new real images are to theirs."""
import numpy as np

# real images held out of the reference set, to say how near a new real
# image comes to the rest: a tenth of the data, from 1 up to this many
MAX_HELD_OUT = 1000


def nearest(queries, references, chunk=256):
    """(index, distance) of each query's nearest reference: RMS pixel
    distance, in chunks so memory stays at chunk x len(references)."""
    flat_refs = references.reshape(len(references), -1).astype("float64")
    ref_norms = np.einsum("ij,ij->i", flat_refs, flat_refs)
    pixels = flat_refs.shape[1]
    indices, distances = [], []
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk].reshape(
            -1, pixels).astype("float64")
        squared = (np.einsum("ij,ij->i", block, block)[:, None]
                   + ref_norms[None, :] - 2.0 * block @ flat_refs.T)
        best = np.argmin(squared, axis=1)
        indices.append(best)
        distances.append(np.sqrt(np.maximum(
            squared[np.arange(len(block)), best], 0.0) / pixels))
    return np.concatenate(indices), np.concatenate(distances)


def split_held_out(real_images, seed=0):
    """(reference images, held-out images): a tenth held out at random,
    at most MAX_HELD_OUT, at least one."""
    count = len(real_images)
    held = min(MAX_HELD_OUT, max(1, count // 10))
    order = np.random.default_rng(seed).permutation(count)
    return real_images[order[held:]], real_images[order[:held]]


def copying_report(generated, real_images, seed=0):
    """{"samples": median distance of the generated images to their nearest
    reference image, "held_out": the same for held-out real images,
    "indices": each generated image's nearest reference, "references": the
    reference images}."""
    references, held_out = split_held_out(real_images, seed)
    indices, sample_distances = nearest(generated, references)
    _, held_distances = nearest(held_out, references)
    return {"samples": float(np.median(sample_distances)),
            "held_out": float(np.median(held_distances)),
            "indices": indices, "distances": sample_distances,
            "references": references, "held_out_count": len(held_out)}


def pairs(generated, report, count):
    """The first `count` generated images each followed by its nearest
    reference: 2 x count images, for a montage of pairs side by side."""
    shown = []
    for image, index in zip(generated[:count], report["indices"][:count]):
        shown.extend([image, report["references"][index]])
    return np.stack(shown)
