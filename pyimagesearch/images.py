"""Training images from a folder: found recursively (imutils), decoded with
OpenCV in parallel, centre-cropped to a square, resized, held as uint8 RGB
and cached, so the next run or a resume starts in seconds."""
import concurrent.futures
import hashlib
import os
import sys
import time

import cv2
import numpy as np
from imutils.paths import image_types, list_images
from tqdm import tqdm

from .errors import UserError
from .files import atomic_write, cache_dir

CACHE_VERSION = 1
SHOW_SKIPPED = 5


def square(image, size):
    """Centre-crop to a square and resize to size x size: area
    interpolation when shrinking (no aliasing), cubic when enlarging."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top:top + side, left:left + side]
    if side == size:
        return image
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def to_uint8(image):
    """16-bit and float images to 8 bits."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    image = image.astype(np.float64)
    if image.max(initial=0) <= 1.0:
        image = image * 255.0
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def drop_alpha(image):
    """Lay the image over white, then drop the alpha channel: what a
    transparent pixel holds underneath (often black, sometimes white, in
    one icon set) is not part of the picture."""
    colour = image[..., :-1].astype(np.float32)
    alpha = image[..., -1:].astype(np.float32) / 255.0
    return np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def decode(path, size):
    """(size x size x 3 RGB uint8, whether the file is grayscale), or None
    for a file OpenCV cannot read.  Transparency is laid over white;
    palette images come out of OpenCV as colour already."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)   # any path, any locale
        image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except (OSError, cv2.error):
        return None
    if image is None or image.size == 0:
        return None
    image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] in (2, 4):   # grey or BGR + alpha
        image = drop_alpha(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    grey = image.ndim == 2
    if grey:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    else:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)  # OpenCV is BGR
    return square(image, size), grey


def to_channels(images, channels):
    """(N, S, S, 3) RGB uint8 to (N, S, S, channels)."""
    if channels == 3:
        return images
    grey = np.empty(images.shape[:3] + (1,), dtype=np.uint8)
    for index, image in enumerate(images):
        grey[index, ..., 0] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return grey


def cache_key(paths, size):
    """Changes when any file is added, removed, rewritten or touched, or
    the size changes."""
    digest = hashlib.sha1(f"v{CACHE_VERSION} size {size}\n".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{stat.st_size}\0"
                      f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def read_cache(path):
    try:
        with np.load(path, allow_pickle=False) as cached:
            return (cached["images"], cached["grey"],
                    [str(name) for name in cached["skipped"]])
    except (OSError, ValueError, KeyError, EOFError):
        return None          # missing or damaged: decode again


def write_cache(path, images, grey, skipped):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, lambda f: np.savez(
            f, images=images, grey=grey,
            skipped=np.asarray(skipped, dtype=str)))
    except OSError:
        pass                 # no cache is slower, not wrong


def decode_all(paths, size, show_progress):
    """Decode in parallel threads (OpenCV releases the GIL)."""
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    grey = np.zeros(len(paths), dtype=bool)
    used = np.zeros(len(paths), dtype=bool)
    skipped = []
    workers = min(32, (os.cpu_count() or 1) + 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(paths), desc="decoding", unit="image",
                 disable=not show_progress, leave=False) as bar:
        for index, result in enumerate(pool.map(
                lambda path: decode(path, size), paths)):
            if result is None:
                skipped.append(paths[index])
            else:
                images[index], grey[index] = result
                used[index] = True
            bar.update(1)
    return images[used], grey[used], skipped


def load_folder(folder, size, show_progress=None, log=print):
    """(uint8 RGB images (N, size, size, 3), all grayscale?) from every
    image file below `folder`; unreadable files are skipped with one
    warning line."""
    if not os.path.isdir(folder):
        raise UserError(f"--dataset {folder} is not a folder")
    paths = sorted(list_images(folder))
    if not paths:
        raise UserError(f"no images ({', '.join(image_types)}) found in "
                        f"{folder} or its subfolders; point --dataset at a "
                        "folder of images")
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    cache = os.path.join(cache_dir(), "images",
                         f"{cache_key(paths, size)}.npz")
    start = time.time()
    cached = read_cache(cache)
    if cached is None:
        images, grey, skipped = decode_all(paths, size, show_progress)
        write_cache(cache, images, grey, skipped)
        seconds = time.time() - start
        how = "decoded in {:.1f} s ({:.0f} images/s)".format(
            seconds, len(paths) / max(seconds, 1e-9))
    else:
        images, grey, skipped = cached
        how = "read from the cache in {:.1f} s".format(time.time() - start)
    log(f"[INFO] {len(paths)} images found in {folder}: {len(images)} used, "
        f"{len(skipped)} skipped; {how}")
    if skipped:
        names = [os.path.relpath(path, folder)
                 for path in skipped[:SHOW_SKIPPED]]
        more = len(skipped) - len(names)
        log(f"[WARNING] skipped {len(skipped)} unreadable or corrupt image "
            f"file{'s' if len(skipped) > 1 else ''}: {', '.join(names)}"
            + (f" and {more} more" if more else ""))
    if not len(images):
        raise UserError(f"none of the {len(paths)} image files in {folder} "
                        "could be read; check that they are images")
    return images, bool(grey.all())
