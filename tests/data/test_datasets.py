"""The named datasets offline (MNIST, CIFAR-10 in plain-data formats) and
what --dataset, --image-size and --channels do to them."""
import os
import tarfile

import numpy as np
import pytest

from conftest import write_fashion_dir
from pyimagesearch.data import datasets, readers
from pyimagesearch.data.datasets import check_dataset, load_dataset
from pyimagesearch.errors import UserError


@pytest.fixture(autouse=True)
def empty_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


def write_cifar_batches(folder, per_batch=3, seed=0):
    """CIFAR-10's binary layout: per record a label byte, then the red,
    green and blue 32x32 planes.  Returns the images as (N, 32, 32, 3)."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    images = []
    for name in readers.CIFAR_TRAIN + readers.CIFAR_TEST:
        planes = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, (per_batch, 1), dtype=np.uint8)
        records = np.concatenate([labels, planes.reshape(per_batch, -1)], 1)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(records.tobytes())
        images.append(planes.transpose(0, 2, 3, 1))
    return np.concatenate(images)


def test_cifar_binary_folder_and_tarball(tmp_path):
    folder = str(tmp_path / "c" / readers.CIFAR_DIR)
    expected = write_cifar_batches(folder)
    # pure red in the first image's top-left pixel must stay red (RGB)
    raw = bytearray(open(os.path.join(folder, "data_batch_1.bin"),
                        "rb").read())
    raw[1], raw[1 + 1024], raw[1 + 2048] = 255, 0, 0
    open(os.path.join(folder, "data_batch_1.bin"), "wb").write(bytes(raw))
    expected[0, 0, 0] = (255, 0, 0)
    for data_dir in (str(tmp_path / "c"), folder):
        ((train, labels), (test, _)), source = readers.load_cifar10(data_dir)
        assert source == folder
        assert train.shape == (15, 32, 32, 3) and test.shape == (3, 32, 32, 3)
        np.testing.assert_array_equal(np.concatenate([train, test]), expected)
    tarball = str(tmp_path / "t" / readers.CIFAR_TAR)
    os.makedirs(os.path.dirname(tarball))
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=readers.CIFAR_DIR)
    ((train, _), (test, _)), source = readers.load_cifar10(
        os.path.dirname(tarball))
    assert source == tarball
    np.testing.assert_array_equal(np.concatenate([train, test]), expected)


def test_cifar_damaged_or_missing_is_one_line(tmp_path):
    folder = str(tmp_path / readers.CIFAR_DIR)
    write_cifar_batches(folder)
    with open(os.path.join(folder, "test_batch.bin"), "ab") as f:
        f.write(b"xx")
    with pytest.raises(UserError, match="test_batch.bin holds 9221 bytes, "
                       "not a whole number of 3073-byte"):
        readers.load_cifar10(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="holds neither cifar-10-binary.tar.gz"
                       " nor the six .bin files"):
        readers.load_cifar10(str(empty))
    with pytest.raises(UserError, match="CIFAR-10 not found in"):
        readers.load_cifar10(download_missing=False)


def test_mnist_from_npz_idx_and_keras_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 2, dtype=np.uint8)}
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **arrays)
    ((train, _), (test, _)), source = readers.load_mnist(download_missing=False)
    assert source == str(cache / "mnist.npz")
    np.testing.assert_array_equal(train, arrays["x_train"])
    # --data-dir with the four IDX files, as Fashion-MNIST's
    idx = str(tmp_path / "idx")
    written = write_fashion_dir(idx, n_train=3, n_test=1)
    ((train, _), _), source = readers.load_mnist(idx)
    assert source == idx
    np.testing.assert_array_equal(
        train, written["train-images-idx3-ubyte.gz"])
    # a pickled object array is refused, never unpickled
    np.savez(cache / "mnist.npz", x_train=np.array([object()]),
             y_train=arrays["y_train"], x_test=arrays["x_test"],
             y_test=arrays["y_test"])
    with pytest.raises(UserError, match="mnist.npz is corrupt or not "
                                        "Keras' mnist.npz"):
        readers.load_mnist(download_missing=False)
    with pytest.raises(UserError, match="holds neither mnist.npz"):
        readers.load_mnist(str(tmp_path / "keras-home"))


def test_named_datasets_sized_and_coloured_on_request(tmp_path):
    folder = str(tmp_path / readers.CIFAR_DIR)
    expected = write_cifar_batches(folder)
    images, source, channels = load_dataset("cifar10", folder)
    assert images.shape == (18, 32, 32, 3) and channels == 3
    np.testing.assert_array_equal(images, expected)
    images, _, channels = load_dataset("cifar10", folder, limit=4, size=16,
                                       channels=1)
    assert images.shape == (4, 16, 16, 1) and channels == 1
    idx = str(tmp_path / "idx")
    write_fashion_dir(idx, n_train=3, n_test=2)
    images, _, channels = load_dataset("mnist", idx, size=32, channels=3)
    assert images.shape == (5, 32, 32, 3) and channels == 3
    assert (images[..., 0] == images[..., 2]).all()


def test_fashion_mnist_default_is_the_tutorials_data(real_data):
    images, source, channels = load_dataset("fashion_mnist", limit=1000)
    assert images.shape == (1000, 28, 28, 1) and images.dtype == np.uint8
    assert channels == 1 and source == real_data
    ((train, _), _), _ = readers.load_fashion_mnist()
    np.testing.assert_array_equal(images[..., 0], train[:1000])
    scaled = datasets.to_unit_range(images)
    assert scaled.dtype == np.float32
    assert scaled.min() == -1.0 and scaled.max() == 1.0


def test_unknown_dataset_is_named(tmp_path):
    check_dataset("mnist")
    check_dataset(str(tmp_path))
    with pytest.raises(UserError, match="--dataset cifar100 is neither one "
                       "of fashion_mnist, mnist, cifar10 nor a folder"):
        check_dataset("cifar100")
