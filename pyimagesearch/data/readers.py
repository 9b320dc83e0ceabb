"""Offline-first loading of the named datasets from plain-data files:
Fashion-MNIST and MNIST from IDX files (or MNIST's .npz), CIFAR-10 from its
binary version.  Nothing is ever unpickled."""
import gzip
import os
import struct
import tarfile
import zipfile
import zlib

import numpy as np

from ..bounded import Capped, checked_npz, open_checked, read_exactly
from ..errors import UserError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# the most an IDX file's data may be, inflated (Fashion-MNIST's largest is
# 47 MB; an image folder's files have the same limit)
MAX_IDX_BYTES = 512 * 2 ** 20
KERAS_SUBDIR = os.path.join("datasets", "fashion-mnist")
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
# where Fashion-MNIST's four files are when --data-dir is not given
DATA_DIR_VARIABLE = "DCGAN_DATA_DIR"


def read_idx(path, expected_magic):
    """Read one gzipped IDX file, checking its header against its size:
    the data is read in chunks up to what the header declares (at most
    MAX_IDX_BYTES), so a file built to inflate far past it costs no
    memory."""
    try:
        with open_checked(path, MAX_IDX_BYTES, "data file") as packed, \
                gzip.open(packed) as f:
            raw = f.read(4)
            magic = struct.unpack(">I", raw)[0] if len(raw) == 4 else None
            if magic != expected_magic:
                raise UserError(
                    f"{path} is too short to be an IDX file; delete it and "
                    "reinstall the data" if magic is None else
                    f"{path} has IDX magic number {magic}, expected "
                    f"{expected_magic}: it is not the file its name says; "
                    "reinstall the data")
            ndim = magic & 0xFF
            raw = f.read(4 * ndim)
            if len(raw) != 4 * ndim:
                raise UserError(f"{path} is too short to be an IDX file; "
                                "delete it and reinstall the data")
            shape = struct.unpack(">" + "I" * ndim, raw)
            declared = int(np.prod(shape, dtype=object))
            if declared > MAX_IDX_BYTES:
                raise UserError(
                    f"{path} declares shape {shape}, {declared:,} bytes of "
                    f"data, over the {MAX_IDX_BYTES:,} an IDX file may hold "
                    "here; reinstall the data")
            body = read_exactly(f, declared, path,
                                f"its header says shape {shape}, that is")
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path} is corrupt or truncated ({e}); "
                        "delete it and reinstall the data") from None
    return body.reshape(shape)


def keras_home():
    """Keras' own cache root, found as Keras finds it: $KERAS_HOME, else
    ~/.keras, or /tmp/.keras where the home folder is not writable."""
    if "KERAS_HOME" in os.environ:
        return os.path.expanduser(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def given_dir(data_dir=None):
    """(the folder the user named for Fashion-MNIST, and how): --data-dir,
    else $DCGAN_DATA_DIR, else (None, None)."""
    if data_dir:
        return data_dir, "--data-dir"
    if os.environ.get(DATA_DIR_VARIABLE):
        return os.environ[DATA_DIR_VARIABLE], "$" + DATA_DIR_VARIABLE
    return None, None


def search_dirs(data_dir=None):
    """The folders tried in order: --data-dir (else $DCGAN_DATA_DIR),
    Keras' cache, Debian's."""
    data_dir = given_dir(data_dir)[0]
    dirs = [data_dir] if data_dir else []
    return dirs + [os.path.join(keras_home(), KERAS_SUBDIR), DEBIAN_DIR]


def find_fashion_mnist(data_dir=None):
    """The first folder in search_dirs() holding all four files, or None."""
    for folder in search_dirs(data_dir):
        if has_all_files(folder):
            return folder
    return None


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
    given, how = given_dir(data_dir)
    if given and not has_all_files(given):
        missing = [n for n in FILES.values()
                   if not os.path.isfile(os.path.join(given, n))]
        raise UserError(f"{how} {given} lacks {', '.join(missing)}; "
                        "point it at a folder holding the four "
                        "Fashion-MNIST IDX .gz files")
    folder = find_fashion_mnist(data_dir)
    if folder is not None:
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


def download(fname, origin, file_hash):
    """Keras' own download into its cache; one line if it fails."""
    try:
        from keras.utils import get_file
        return get_file(fname, origin=origin, file_hash=file_hash,
                        cache_subdir="datasets")
    except Exception as e:  # any network or file failure ends the same way
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{fname} not found locally and the Keras download "
                        f"failed ({reason}); download {origin} yourself and "
                        "pass --data-dir FOLDER holding it") from None


MNIST_NPZ = "mnist.npz"
# what mnist.npz's members may claim inflated (its x_train is 47 MB)
MAX_NPZ_MEMBER_BYTES = 64 * 2 ** 20
MAX_NPZ_BYTES = 128 * 2 ** 20
MNIST_URL = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
             "mnist.npz")
MNIST_SHA256 = \
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def read_mnist_npz(path):
    """Keras' mnist.npz, read as plain arrays (allow_pickle=False), each
    member checked against what it declares before it is inflated."""
    try:
        with checked_npz(path, {}, MAX_NPZ_MEMBER_BYTES, MAX_NPZ_BYTES,
                         "mnist.npz", max_members=4) as f:
            data = ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"]))
    except (OSError, ValueError, KeyError, EOFError,
            zipfile.BadZipFile) as e:
        raise UserError(f"{path} is corrupt or not Keras' mnist.npz "
                        f"({type(e).__name__}: {e}); delete it and fetch "
                        "it again") from None
    for images in (data[0][0], data[1][0]):
        if images.ndim != 3 or images.dtype != np.uint8:
            raise UserError(f"{path} holds images of shape {images.shape} "
                            f"and type {images.dtype}, not MNIST's")
    return data


def load_mnist(data_dir=None, download_missing=True):
    """MNIST from --data-dir (mnist.npz or the four IDX .gz files), then
    Keras' cache, then Keras' download."""
    folders = [data_dir or os.path.join(keras_home(), "datasets")]
    for folder in folders:
        if os.path.isfile(os.path.join(folder, MNIST_NPZ)):
            path = os.path.join(folder, MNIST_NPZ)
            return read_mnist_npz(path), path
        if has_all_files(folder):
            return read_dir(folder), folder
    if data_dir:
        raise UserError(f"--data-dir {data_dir} holds neither {MNIST_NPZ} "
                        "nor the four MNIST IDX .gz files ("
                        + ", ".join(FILES.values()) + ")")
    if not download_missing:
        raise UserError(f"MNIST not found in {', '.join(folders)}; pass "
                        f"--data-dir FOLDER holding {MNIST_NPZ}")
    path = download(MNIST_NPZ, MNIST_URL, MNIST_SHA256)
    return read_mnist_npz(path), path


CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_TAR = "cifar-10-binary.tar.gz"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR_TRAIN = [f"data_batch_{index}.bin" for index in range(1, 6)]
CIFAR_TEST = ["test_batch.bin"]
CIFAR_RECORD = 1 + 32 * 32 * 3        # label, then R, G and B planes
CIFAR_BATCH_BYTES = 10000 * CIFAR_RECORD    # each of the six files
# the archive inflated (CIFAR-10's is 185 MB) and the files it may hold
MAX_CIFAR_TAR_BYTES = 256 * 2 ** 20
MAX_CIFAR_MEMBERS = 64
MAX_TAR_HEADER = 64 * 1024      # a pax or long-name header: a few hundred


def parse_cifar_batch(raw, name):
    """One CIFAR-10 binary batch: (images (N, 32, 32, 3) RGB, labels)."""
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise UserError(f"{name} holds {len(raw)} bytes, not a whole number "
                        f"of {CIFAR_RECORD}-byte CIFAR-10 records: it is "
                        "truncated or not the binary version; fetch it "
                        "again")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].copy()


def read_cifar(read, where):
    """((train images, labels), (test images, labels)) through read(name)."""
    def stack(names):
        batches = [parse_cifar_batch(read(name), f"{where}/{name}")
                   for name in names]
        return (np.concatenate([images for images, _ in batches]),
                np.concatenate([labels for _, labels in batches]))
    return stack(CIFAR_TRAIN), stack(CIFAR_TEST)


def read_cifar_dir(folder):
    def read(name):
        path = os.path.join(folder, name)
        with open_checked(path, CIFAR_BATCH_BYTES, "CIFAR-10 batch") as f:
            return f.read(CIFAR_BATCH_BYTES)
    return read_cifar(read, folder)


class BoundedTarInfo(tarfile.TarInfo):
    """A tar member whose extended header (pax, GNU long name), which
    tarfile reads whole into memory, is refused past MAX_TAR_HEADER."""

    EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)

    def _proc_member(self, tarfile_):
        if self.type in self.EXTENDED and self.size > MAX_TAR_HEADER:
            raise tarfile.HeaderError(
                f"a member's extended header claims {self.size:,} bytes, "
                f"over the {MAX_TAR_HEADER:,} any has")
        return super()._proc_member(tarfile_)


def read_cifar_tar(path):
    """The six batches out of CIFAR-10's .tar.gz, read as a stream: every
    read capped at MAX_CIFAR_TAR_BYTES inflated, each batch at its
    declared size and at CIFAR_BATCH_BYTES."""
    wanted = {f"{CIFAR_DIR}/{name}": name for name in CIFAR_TRAIN + CIFAR_TEST}
    batches = {}
    try:
        with open_checked(path, MAX_CIFAR_TAR_BYTES, "CIFAR-10 archive") \
                as packed, gzip.open(packed) as inflated, tarfile.open(
                    fileobj=Capped(inflated, MAX_CIFAR_TAR_BYTES, path,
                                   "CIFAR-10 archive"), mode="r|",
                    tarinfo=BoundedTarInfo) as tar:
            for count, member in enumerate(tar):
                if count >= MAX_CIFAR_MEMBERS:
                    raise UserError(f"{path} holds more than "
                                    f"{MAX_CIFAR_MEMBERS} files: it is not "
                                    "CIFAR-10's binary version")
                name = wanted.get(member.name)
                if name is None:
                    continue
                if not member.isfile() or member.size > CIFAR_BATCH_BYTES:
                    raise UserError(f"{path}: its {member.name} claims "
                                    f"{member.size:,} bytes, not a batch of "
                                    f"at most {CIFAR_BATCH_BYTES:,}: it is "
                                    "corrupt; fetch it again")
                batches[name] = read_exactly(
                    tar.extractfile(member), member.size,
                    f"{path}/{member.name}", "its tar header says")
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise UserError(f"{path} is corrupt or not CIFAR-10's binary "
                        f"version ({type(e).__name__}: {e}); delete it and "
                        "fetch it again") from None
    missing = [name for name in wanted.values() if name not in batches]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}: it is not "
                        "CIFAR-10's binary version; delete it and fetch it "
                        "again")
    return read_cifar(batches.__getitem__, path)


def load_cifar10(data_dir=None, download_missing=True):
    """CIFAR-10's binary version (plain bytes; the Python version is
    pickled and is never read here) from --data-dir, then Keras' cache,
    then a download into that cache."""
    folders = [data_dir or os.path.join(keras_home(), "datasets")]
    for folder in folders:
        for candidate in (folder, os.path.join(folder, CIFAR_DIR)):
            if all(os.path.isfile(os.path.join(candidate, name))
                   for name in CIFAR_TRAIN + CIFAR_TEST):
                return read_cifar_dir(candidate), candidate
        if os.path.isfile(os.path.join(folder, CIFAR_TAR)):
            path = os.path.join(folder, CIFAR_TAR)
            return read_cifar_tar(path), path
    if data_dir:
        raise UserError(f"--data-dir {data_dir} holds neither {CIFAR_TAR} "
                        f"nor the six .bin files of CIFAR-10's binary "
                        f"version (the Python version is pickled and not "
                        f"read); get {CIFAR_URL}")
    if not download_missing:
        raise UserError(f"CIFAR-10 not found in {', '.join(folders)}; pass "
                        f"--data-dir FOLDER holding {CIFAR_TAR}")
    path = download(CIFAR_TAR, CIFAR_URL, CIFAR_MD5)
    return read_cifar_tar(path), path
