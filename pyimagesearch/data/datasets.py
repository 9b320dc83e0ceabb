"""What --dataset names: the tutorial's Fashion-MNIST, MNIST, CIFAR-10, or
a folder of images.  Each comes back as uint8 images (N, S, S, C), scaled
to [-1, 1] one batch at a time by the training loop."""
import hashlib
import os

import numpy as np

from . import readers
from ..errors import UserError
from ..files import readable_name
from .folders import load_folder_files, square, to_channels
from .labels import CLASS_NAMES, class_counts_warning, folder_labels

# name -> (image size, channels) of the data as published
NAMED = {"fashion_mnist": (28, 1), "mnist": (28, 1), "cifar10": (32, 3)}
FOLDER_SIZE = 32
TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST",
          "cifar10": "CIFAR-10"}


def is_folder(dataset):
    return dataset not in NAMED


def check_dataset(dataset):
    """Before anything loads: a known name or an existing folder."""
    if is_folder(dataset) and not os.path.isdir(dataset):
        raise UserError(f"--dataset {dataset} is neither one of "
                        f"{', '.join(NAMED)} nor a folder of images")


def native_shape(dataset):
    """(image size, channels) to train at when the flags say nothing: the
    data's own for a named set; for a folder 32, and channels None (3, or
    1 if every image is grey, known once the folder is decoded)."""
    return NAMED.get(dataset, (FOLDER_SIZE, None))


def title(dataset):
    """'Fashion-MNIST', 'CIFAR-10' or the folder's name, for plots."""
    return TITLES.get(dataset) or readable_name(os.path.basename(
        os.path.normpath(dataset)))


def named_images(dataset, data_dir):
    """The train and test images stacked (there is no test set for a
    GAN), as the tutorial does, where they came from, and their labels
    stacked the same way."""
    loader = {"fashion_mnist": readers.load_fashion_mnist,
              "mnist": readers.load_mnist,
              "cifar10": readers.load_cifar10}[dataset]
    ((train_images, train_labels), (test_images, test_labels)), source = \
        loader(data_dir)
    labels = np.concatenate([np.ravel(train_labels), np.ravel(test_labels)])
    return (np.concatenate([train_images, test_images]), source,
            labels.astype(np.int64))


def load_dataset(dataset, data_dir=None, limit=None, size=None,
                 channels=None, log=print, exclude=None):
    """(uint8 images (N, size, size, channels), source, channels): the
    first `limit` images, resized and converted as asked; channels=None
    keeps the data's own (for a folder: 3, or 1 if every file is grey).
    Nothing below `exclude` (the run's output folder) is read as data."""
    images, source, channels, _ = load_images(
        dataset, data_dir, limit, size, channels, log, exclude)
    return images, source, channels


def load_labelled(dataset, data_dir=None, limit=None, size=None,
                  channels=None, log=print, exclude=None):
    """load_dataset's (images, source, channels) and the images' classes:
    int64 labels (N,) in the images' order, and the class names.  A
    folder's classes are its sub-folders; a class with very few images is
    warned of."""
    images, source, channels, (labels, names) = load_images(
        dataset, data_dir, limit, size, channels, log, exclude,
        labelled=True)
    warning = class_counts_warning(labels, names)
    if warning:
        log(warning)
    return images, source, channels, labels, names


def load_images(dataset, data_dir, limit, size, channels, log, exclude,
                labelled=False):
    classes = None
    if is_folder(dataset):
        images, all_grey, paths = load_folder_files(
            dataset, size or FOLDER_SIZE, limit, log=log, exclude=exclude)
        source = readable_name(dataset)
        native = 1 if all_grey else 3
        if labelled:
            classes = folder_labels(dataset, paths, limit, exclude)
    else:
        images, source, labels = named_images(dataset, data_dir)
        native = NAMED[dataset][1]
        names = CLASS_NAMES[dataset]
        if labelled and len(labels) and not (
                0 <= labels.min() and labels.max() < len(names)):
            raise UserError(f"{source} holds labels from {labels.min()} to "
                            f"{labels.max()}, not {dataset}'s 0 to "
                            f"{len(names) - 1}; reinstall the data")
        classes = (labels[:limit], names)
    images = images[:limit]
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if size is not None and images.shape[1] != size:
        images = np.stack([square(image, size).reshape(size, size, -1)
                           for image in images])
    channels = channels or native
    if images.shape[-1] == 1 and channels == 3:
        images = np.repeat(images, 3, axis=-1)
    elif images.shape[-1] == 3 and channels == 1:
        images = to_channels(images, 1)
    return images, source, channels, classes


def to_unit_range(images):
    """uint8 -> float32 in [-1, 1], tanh's range: (x - 127.5) / 127.5."""
    return (np.asarray(images).astype("float32") - 127.5) / 127.5


def scale_images(images):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [-1, 1]."""
    return to_unit_range(np.expand_dims(images, axis=-1))


def fingerprint(images, chunk=4096):
    """sha1 of the training images as the model sees them (float32 in
    [-1, 1], scaled a chunk at a time): a resumed run must see the same
    data."""
    digest = hashlib.sha1()
    for start in range(0, len(images), chunk):
        digest.update(np.ascontiguousarray(
            to_unit_range(images[start:start + chunk])).tobytes())
    return digest.hexdigest()
