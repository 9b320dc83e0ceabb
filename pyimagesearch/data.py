"""Offline-first Fashion-MNIST loading from the IDX files Keras itself uses."""
import gzip
import hashlib
import os
import struct
import zlib

import numpy as np

from .errors import UserError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
KERAS_SUBDIR = os.path.join("datasets", "fashion-mnist")
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path, expected_magic):
    """Read one gzipped IDX file, checking its header against its size."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path} is corrupt or truncated ({e}); "
                        "delete it and reinstall the data") from None
    if len(raw) < 8:
        raise UserError(f"{path} is too short to be an IDX file; "
                        "delete it and reinstall the data")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != expected_magic:
        raise UserError(f"{path} has IDX magic number {magic}, expected "
                        f"{expected_magic}: it is not the file its name "
                        "says; reinstall the data")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    body = raw[header:]
    if len(body) != int(np.prod(shape)):
        raise UserError(f"{path} holds {len(body)} bytes of data but its "
                        f"header says shape {shape}: the file is truncated "
                        "or corrupt; reinstall the data")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def keras_home():
    """Keras' own cache root, found as Keras finds it: $KERAS_HOME, else
    ~/.keras, or /tmp/.keras where the home folder is not writable."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def search_dirs(data_dir=None):
    """The folders tried in order: --data-dir, Keras' cache, Debian's."""
    dirs = [data_dir] if data_dir else []
    return dirs + [os.path.join(keras_home(), KERAS_SUBDIR), DEBIAN_DIR]


def read_dir(folder):
    """((trainX, trainY), (testX, testY)) from a folder of the four files."""
    def read(key, magic):
        return read_idx(os.path.join(folder, FILES[key]), magic)

    train = (read("train_images", IMAGES_MAGIC),
             read("train_labels", LABELS_MAGIC))
    test = (read("test_images", IMAGES_MAGIC),
            read("test_labels", LABELS_MAGIC))
    for (images, labels), name in ((train, "train"), (test, "t10k")):
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise UserError(f"{folder}: {name} images {images.shape} do not "
                            f"match {name} labels {labels.shape}; "
                            "reinstall the data")
    return train, test


def has_all_files(folder):
    return all(os.path.isfile(os.path.join(folder, name))
               for name in FILES.values())


def load_fashion_mnist(data_dir=None, download=True):
    """Load Fashion-MNIST from the first folder holding all four files.

    Falls back to Keras' own download only when no local copy exists.
    Returns (data, source) where source says where the data came from.
    """
    if data_dir and not has_all_files(data_dir):
        missing = [n for n in FILES.values()
                   if not os.path.isfile(os.path.join(data_dir, n))]
        raise UserError(f"--data-dir {data_dir} lacks {', '.join(missing)}; "
                        "point it at a folder holding the four "
                        "Fashion-MNIST IDX .gz files")
    for folder in search_dirs(data_dir):
        if has_all_files(folder):
            return read_dir(folder), folder
    if download:
        try:
            from tensorflow.keras.datasets import fashion_mnist
            return fashion_mnist.load_data(), "Keras download"
        except Exception as e:  # any network or file failure ends the same way
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            failure = f"the Keras download failed ({reason})"
    else:
        failure = "downloading was not allowed"
    raise UserError("Fashion-MNIST not found in "
                    + ", ".join(search_dirs(data_dir)) + f" and {failure}; "
                    "fix: `apt-get install dataset-fashion-mnist`, or pass "
                    "--data-dir DIR holding the four IDX .gz files")


def scale_images(images):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [-1, 1], tanh's range."""
    images = np.expand_dims(images, axis=-1)
    return (images.astype("float32") - 127.5) / 127.5


def prepare_images(train_images, test_images, limit=None):
    """The tutorial's training set: train and test images stacked (there is
    no test set for a GAN), optionally only the first `limit`, scaled."""
    images = np.concatenate([train_images, test_images])
    if limit is not None:
        images = images[:limit]
    return scale_images(images)


def load_training_images(data_dir=None, limit=None):
    """(the tutorial's scaled training images, where they were read from)."""
    ((train_images, _), (test_images, _)), source = \
        load_fashion_mnist(data_dir)
    return prepare_images(train_images, test_images, limit), source


def fingerprint(images):
    """sha1 of the training images: a resumed run must see the same data."""
    return hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()
