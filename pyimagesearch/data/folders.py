"""Training images from a folder: found recursively (imutils), decoded with
OpenCV in parallel, centre-cropped to a square, resized, held as uint8 RGB
and cached, so the next run or a resume starts in seconds."""
import concurrent.futures
import glob
import hashlib
import os
import stat
import sys
import time
import typing
import warnings
import zipfile

# what one image may be, checked before it is read: a small file can still
# claim a huge picture, so the header's pixel count is checked too (and is
# OpenCV's own limit, which it reads once, on import)
MAX_PIXELS = 64 * 2 ** 20
MAX_FILE_BYTES = 512 * 2 ** 20
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from imutils.paths import image_types, list_images  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ..errors import UserError  # noqa: E402
from ..files import (atomic_write, cache_dir,  # noqa: E402
                     readable_name)

CACHE_VERSION = 4     # 4: which files were used; 3: ctime in the key,
#                       skip reasons; 2: transparency
SHOW_SKIPPED = 5
ALPHA_ROWS = 512      # rows laid over white at a time, to bound the memory
STALE_SECONDS = 3600  # a cache's temporary file older than this was left


def crop_square(image):
    """The centred square of an image (a view, no copy)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top:top + side, left:left + side]


def square(image, size):
    """Centre-crop to a square and resize to size x size: area
    interpolation when shrinking (no aliasing), cubic when enlarging."""
    image = crop_square(image)
    side = image.shape[0]
    if side == size:
        return image
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def row_strips(image):
    """(first row, strip) over an image, ALPHA_ROWS rows at a time: large
    images are converted a strip at a time, never as full float copies."""
    for top in range(0, image.shape[0], ALPHA_ROWS):
        yield top, image[top:top + ALPHA_ROWS]


def to_8_bits(image):
    """16-bit and float images to 8 bits; None for a float image with
    NaN or infinite pixels (it has no picture to show)."""
    if image.dtype == np.uint8:
        return image
    eight = np.empty(image.shape, np.uint8)
    if image.dtype == np.uint16:
        for top, strip in row_strips(image):
            eight[top:top + ALPHA_ROWS] = strip >> 8
        return eight
    peak = -np.inf
    for _, strip in row_strips(image):
        strip = strip.astype(np.float32)
        if not np.isfinite(strip).all():
            return None
        peak = max(peak, strip.max(initial=0))
    scale = 255.0 if peak <= 1.0 else None     # a [0, 1] image
    for top, strip in row_strips(image):
        strip = strip.astype(np.float32)
        if scale:
            strip = strip * scale
        eight[top:top + ALPHA_ROWS] = np.clip(np.rint(strip), 0, 255)
    return eight


def drop_alpha(image):
    """Lay the image over white, then drop the alpha channel: what a
    transparent pixel holds underneath (often black, sometimes white, in
    one icon set) is not part of the picture."""
    over_white = np.empty(image.shape[:2] + (image.shape[2] - 1,), np.uint8)
    for top, strip in row_strips(image):       # in float32 strips
        colour = strip[..., :-1].astype(np.float32)
        alpha = strip[..., -1:].astype(np.float32) / 255.0
        over_white[top:top + ALPHA_ROWS] = np.rint(
            colour * alpha + 255.0 * (1.0 - alpha))
    return over_white


def may_hold_alpha(raw):
    """PNG and TIFF can carry transparency; other formats (JPEG above all)
    are read with their EXIF orientation applied, as a viewer shows them:
    OpenCV ignores it when asked for the file unchanged."""
    head = raw[:4].tobytes()
    return head in (b"\x89PNG", b"II*\x00", b"MM\x00*")


def decode(path, size):
    """(size x size x 3 RGB uint8, whether the image is grey), or None for
    a file OpenCV cannot read.  Transparency is laid over white; palette
    images come out of OpenCV as colour already."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)   # any path, any locale
        flags = (cv2.IMREAD_UNCHANGED if may_hold_alpha(raw)
                 else cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
        image = cv2.imdecode(raw, flags)
    except (OSError, cv2.error):
        return None
    if image is None or image.size == 0:
        return None
    # crop before anything that copies: a 4000x4000 photo stays one copy
    image = to_8_bits(crop_square(image))
    if image is None:
        return None
    if image.ndim == 3 and image.shape[2] in (2, 4):   # grey or BGR + alpha
        image = drop_alpha(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    image = square(image, size)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), True
    # grey+alpha and grey-palette PNGs come out of OpenCV as three channels
    grey = bool((image[..., 0] == image[..., 1]).all()
                and (image[..., 1] == image[..., 2]).all())
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB), grey


def to_channels(images, channels):
    """(N, S, S, 3) RGB uint8 to (N, S, S, channels)."""
    if channels == 3:
        return images
    grey = np.empty(images.shape[:3] + (1,), dtype=np.uint8)
    for index, image in enumerate(images):
        grey[index, ..., 0] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return grey


def why_not(path):
    """None if `path` may be decoded, else why not, found without reading
    the picture: only regular files (a FIFO or a device would block or
    never end), of at most MAX_FILE_BYTES, whose header gives at most
    MAX_PIXELS (a few KB of PNG can unpack to gigabytes)."""
    try:
        info = os.stat(path)
    except OSError:
        return "vanished"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > MAX_FILE_BYTES:
        return (f"{info.st_size / 2 ** 20:.0f} MB, over the "
                f"{MAX_FILE_BYTES // 2 ** 20} MB limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:     # reads the header only
                width, height = header.size
    except Image.DecompressionBombError:     # far over the limit
        return (f"over {2 * Image.MAX_IMAGE_PIXELS // 2 ** 20} megapixels, "
                f"far over the {MAX_PIXELS // 2 ** 20}-megapixel limit")
    except Exception:    # Pillow raises many types for what it cannot read
        return None      # OpenCV may still read it, within its own limit
    if width * height > MAX_PIXELS:
        return (f"{width}x{height} pixels, over the "
                f"{MAX_PIXELS // 2 ** 20}-megapixel limit")
    return None


def skipped_name(path, folder, reason):
    name = readable_name(os.path.relpath(path, folder))
    return f"{name} ({reason})" if reason else name


class Exclusion(typing.NamedTuple):
    """What a run writes, never read as data: its output `folder`, and the
    `names` (a compiled pattern) of the files it writes there.  Passed in
    by the run (runfiles.outputs.run_exclusion): the data knows no run."""
    folder: str
    names: typing.Pattern = None


def is_run_output(path, folder, exclude):
    """Whether `path` is the run's own: anything in its output folder when
    that folder is inside the data's, else the files a run writes (an
    output folder above or equal to the data's holds the data too)."""
    real, out = os.path.realpath(path), os.path.realpath(exclude.folder)
    inside = os.path.realpath(folder) + os.sep
    if out.startswith(inside) and real.startswith(out + os.sep):
        return True
    return (os.path.dirname(real) == out
            and exclude.names is not None
            and exclude.names.match(os.path.basename(real)) is not None)


def unique_files(folder, limit=None, exclude=None):
    """(image files below `folder`, sorted, each real file once: links to a
    file already listed are dropped; at most `limit`), and those that
    vanished or are dangling links.  The run's own files (`exclude`, an
    Exclusion) are never data."""
    files, gone, seen = [], [], set()
    for path in sorted(list_images(folder)):
        if exclude and is_run_output(path, folder, exclude):
            continue
        try:
            real = os.path.realpath(path)
            os.stat(real)
        except OSError:
            gone.append(path)
            continue
        if real not in seen:
            seen.add(real)
            files.append(path)
            if limit is not None and len(files) >= limit:
                break
    return files, gone


def cache_key(paths, size):
    """Changes when any file is added, removed, rewritten or touched, or
    the size changes."""
    digest = hashlib.sha1(f"v{CACHE_VERSION} size {size}\n".encode())
    for path in paths:
        try:
            info = os.stat(path)
            # ctime too: an edit whose size and mtime were put back
            stamp = f"{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}"
        except OSError:
            stamp = "gone"
        digest.update(os.fsencode(os.path.abspath(path)) + b"\0"
                      + stamp.encode() + b"\n")
    return digest.hexdigest()[:20]


def read_cache(path):
    try:
        with np.load(path, allow_pickle=False) as cached:
            return (cached["images"], cached["grey"],
                    [str(name) for name in cached["skipped"]],
                    cached["used"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None          # missing or damaged: decode again


def write_cache(path, images, grey, skipped, used):
    folder = os.path.dirname(path)
    for tmp in glob.glob(os.path.join(glob.escape(folder), ".tmp-*")):
        try:
            if time.time() - os.stat(tmp).st_mtime > STALE_SECONDS:
                os.remove(tmp)
        except OSError:
            pass
    try:
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda f: np.savez(
            f, images=images, grey=grey,
            skipped=np.asarray(skipped, dtype=str), used=used))
    except OSError:
        pass                 # no cache is slower, not wrong


def decode_all(paths, size, show_progress):
    """Decode in parallel threads (OpenCV releases the GIL) the files that
    may be decoded; returns (images, grey, [(path, why skipped)], the
    indices in `paths` of the images)."""
    reasons = [why_not(path) for path in paths]     # cheap: headers only
    skipped = [(path, reason) for path, reason in zip(paths, reasons)
               if reason is not None]
    indices = np.array([index for index, reason in enumerate(reasons)
                        if reason is None], dtype=np.int64)
    paths = [paths[index] for index in indices]
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    grey = np.zeros(len(paths), dtype=bool)
    used = np.zeros(len(paths), dtype=bool)
    # OpenCV decodes outside the GIL; more threads than cores only adds
    # full-size images in memory at once
    workers = min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool, \
            tqdm(total=len(paths), desc="decoding", unit="image",
                 disable=not show_progress, leave=False) as bar:
        for index, result in enumerate(pool.map(
                lambda path: decode(path, size), paths)):
            if result is None:
                skipped.append((paths[index], ""))
            else:
                images[index], grey[index] = result
                used[index] = True
            bar.update(1)
    return images[used], grey[used], skipped, indices[used]


def load_folder(folder, size, limit=None, show_progress=None, log=print,
                exclude=None):
    """(uint8 RGB images (N, size, size, 3), all grey?) from the image
    files below `folder` (the first `limit`, in sorted order, none below
    `exclude`); files that cannot be used are skipped with one warning
    line."""
    images, all_grey, _ = load_folder_files(folder, size, limit,
                                            show_progress, log, exclude)
    return images, all_grey


def load_folder_files(folder, size, limit=None, show_progress=None,
                      log=print, exclude=None):
    """load_folder's images and all-grey, and the path of each image."""
    shown = readable_name(folder)
    if not os.path.isdir(folder):
        raise UserError(f"--dataset {shown} is not a folder")
    paths, gone = unique_files(folder, limit, exclude)
    if not paths and not gone:
        raise UserError(f"no images ({', '.join(image_types)}) found in "
                        f"{shown} or its subfolders; point --dataset at a "
                        "folder of images")
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    cache = os.path.join(cache_dir(), "images",
                         f"{cache_key(paths, size)}.npz")
    start = time.time()
    cached = read_cache(cache)
    if cached is None:
        images, grey, skipped, used = decode_all(paths, size,
                                                 show_progress)
        skipped = [skipped_name(path, folder, reason)
                   for path, reason in skipped]
        write_cache(cache, images, grey, skipped, used)
        seconds = time.time() - start
        how = "decoded in {:.1f} s ({:.0f} images/s)".format(
            seconds, len(paths) / max(seconds, 1e-9))
    else:
        images, grey, skipped, used = cached
        how = "read from the cache in {:.1f} s".format(time.time() - start)
    skipped = [skipped_name(path, folder, "")
               for path in gone] + skipped
    found = len(paths) + len(gone)
    log(f"[INFO] {found} images found in {shown}: {len(images)} used, "
        f"{len(skipped)} skipped; {how}")
    if skipped:
        more = len(skipped) - SHOW_SKIPPED
        log(f"[WARNING] skipped {len(skipped)} unreadable or corrupt image "
            f"file{'s' if len(skipped) > 1 else ''}: "
            f"{', '.join(skipped[:SHOW_SKIPPED])}"
            + (f" and {more} more" if more > 0 else ""))
    if not len(images):
        raise UserError(f"none of the {found} image files in {shown} "
                        "could be read; check that they are images")
    return images, bool(grey.all()), [paths[index] for index in used]
