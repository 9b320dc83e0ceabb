"""Benchmark montages: a 16x16 grid of generated images written as PNG."""
import os

import cv2
import numpy as np
from imutils import build_montages

from ..errors import UserError
from ..files import readable_name

GRID = (16, 16)


def from_unit_range(images):
    """Map generator output from [-1, 1] (tanh) back to [0, 255]."""
    return ((np.asarray(images) * 127.5) + 127.5).astype("uint8")


def for_imwrite(image):
    """One uint8 image (H, W, C) as cv2.imwrite wants it: grey as (H, W),
    RGB as BGR."""
    return image[..., 0] if image.shape[-1] == 1 else image[..., ::-1]


def class_rows(noise, num_classes, columns=GRID[0]):
    """(noise, classes, grid) of a conditional montage: one class a row,
    the same `columns` noise vectors in every row, so that a column shows
    the class changing and the style staying."""
    noise = np.tile(noise[:columns], (num_classes, 1))
    classes = np.repeat(np.arange(num_classes), columns)
    return noise, classes, (columns, num_classes)


def build_montage(images, grid=GRID):
    """One BGR montage image (for cv2.imwrite) of `images` (N, H, W, C) in
    [-1, 1]: grey repeated to 3 channels, RGB turned to OpenCV's BGR."""
    images = from_unit_range(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    else:
        images = images[..., ::-1]
    height, width = images.shape[1:3]
    return build_montages(images, (width, height), grid)[0]


def write_image(path, image):
    """cv2.imwrite's bytes, written by Python: any file name (OpenCV
    crashes on names that are not UTF-8), and an error that says so
    instead of imwrite's silent False."""
    folder = os.path.dirname(path) or "."
    try:
        ok, encoded = cv2.imencode(os.path.splitext(path)[1] or ".png",
                                   image)
    except cv2.error as e:
        raise UserError(f"could not write {readable_name(path)}: {e}") \
            from None
    try:
        if not ok:
            raise OSError("OpenCV could not encode the image")
        # O_NONBLOCK: a FIFO named like a montage fails here, never blocks
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | os.O_NONBLOCK, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(encoded.tobytes())
    except OSError as e:
        raise UserError(f"could not write {readable_name(path)} ({e}): "
                        f"check that {readable_name(folder)} exists, is "
                        "writable and has free space") from None


def montage_name(epoch, i, batches_per_epoch):
    """The tutorial's montage file name for step i of `epoch` (1-based),
    or None when this step gets no montage."""
    if i == batches_per_epoch - 1:
        return "epoch_{}_output.png".format(str(epoch).zfill(4))
    # more visualizations early in training, fewer later on
    if (epoch <= 10 and i % 25 == 0) or (epoch > 10 and i % 100 == 0):
        return "epoch_{}_step_{}.png".format(str(epoch).zfill(4),
                                             str(i).zfill(5))
    return None
