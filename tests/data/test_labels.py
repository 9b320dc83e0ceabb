"""Each image's class, for --conditional: aligned with its image after
stacking, --limit, skipped files and the cache."""
import os

import cv2
import numpy as np
import pytest

from conftest import write_fashion_dir, write_idx
from pyimagesearch.data import readers
from pyimagesearch.data.datasets import load_labelled
from pyimagesearch.data.labels import CLASS_NAMES
from pyimagesearch.errors import UserError
from pyimagesearch.runfiles.outputs import run_exclusion


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))


def quiet(_):
    pass


def test_fashion_labels_stacked_like_the_images(tmp_path):
    folder = str(tmp_path / "fashion")
    arrays = write_fashion_dir(folder, n_train=6, n_test=4)
    images, _, channels, labels, names = load_labelled(
        "fashion_mnist", folder, log=quiet)
    expected = np.concatenate([arrays["train-labels-idx1-ubyte.gz"],
                               arrays["t10k-labels-idx1-ubyte.gz"]])
    assert labels.dtype == np.int64 and labels.tolist() == expected.tolist()
    assert names == CLASS_NAMES["fashion_mnist"] and names[7] == "Sneaker"
    assert images.shape == (10, 28, 28, 1) and channels == 1
    # --limit across the train/test seam keeps each label with its image
    limited = load_labelled("fashion_mnist", folder, limit=8, log=quiet)
    assert limited[3].tolist() == expected[:8].tolist()
    assert np.array_equal(limited[0][7, ..., 0],
                          arrays["t10k-images-idx3-ubyte.gz"][1])


def test_cifar_labels_aligned_with_their_images(tmp_path):
    folder = str(tmp_path / "c" / readers.CIFAR_DIR)
    os.makedirs(folder)
    rng = np.random.default_rng(1)
    expected = []
    for name in readers.CIFAR_TRAIN + readers.CIFAR_TEST:
        labels = rng.integers(0, 10, (3, 1), dtype=np.uint8)
        # every pixel of an image tells its label
        planes = np.repeat(labels * 20, 3 * 32 * 32, axis=1)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(np.concatenate([labels, planes], 1).tobytes())
        expected.extend(labels[:, 0].tolist())
    images, _, _, labels, names = load_labelled("cifar10", folder, log=quiet)
    assert labels.tolist() == expected
    assert np.array_equal(images[:, 5, 7, 1], labels * 20)
    assert names[0] == "airplane" and names[9] == "truck"


def test_labels_outside_the_classes_refused(tmp_path):
    folder = str(tmp_path / "fashion")
    write_fashion_dir(folder)
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"),
              np.array([1, 2, 12, 3]), magic=readers.LABELS_MAGIC)
    with pytest.raises(UserError, match="labels from 0 to 12"):
        load_labelled("fashion_mnist", folder, log=quiet)


def write_classes(root, counts, size=12):
    """One sub-folder per class, each image filled with its class's grey
    level (class i: 40 * (i + 1)); returns the class names."""
    names = sorted(counts)
    for number, name in enumerate(names):
        os.makedirs(os.path.join(root, name, "deeper"), exist_ok=True)
        for index in range(counts[name]):
            sub = "deeper" if index % 2 else ""
            image = np.full((size, size, 3), 40 * (number + 1), np.uint8)
            assert cv2.imwrite(os.path.join(root, name, sub,
                                            f"{index:03d}.png"), image)
    return names


def test_folder_classes_from_the_first_subfolder(tmp_path):
    root = str(tmp_path / "classes")
    write_classes(root, {"boots": 5, "hats": 3, "shirts": 4})
    # an unreadable file is skipped without shifting the labels after it
    with open(os.path.join(root, "boots", "000b.png"), "wb") as f:
        f.write(b"\x89PNG broken")
    lines = []
    for attempt in range(2):            # decoded, then from the cache
        images, _, _, labels, names = load_labelled(root, size=8,
                                                    log=lines.append)
        assert names == ("boots", "hats", "shirts")
        assert np.bincount(labels).tolist() == [5, 3, 4]
        assert np.array_equal(images[:, 0, 0, 0], 40 * (labels + 1))
    assert any("from the cache" in line for line in lines)
    warning = [line for line in lines if line.startswith("[WARNING] 3")]
    assert warning and "hats (3)" in warning[0]


def test_folder_classes_refused(tmp_path):
    loose = str(tmp_path / "loose")
    write_classes(loose, {"a": 2, "b": 2})
    cv2.imwrite(os.path.join(loose, "top.png"), np.zeros((8, 8, 3)))
    with pytest.raises(UserError, match="lie directly in it"):
        load_labelled(loose, size=8, log=quiet)

    single = str(tmp_path / "single")
    write_classes(single, {"only": 3})
    with pytest.raises(UserError, match="at least two class folders"):
        load_labelled(single, size=8, log=quiet)

    empty = str(tmp_path / "empty")
    write_classes(empty, {"a": 2, "b": 2})
    os.makedirs(os.path.join(empty, "c"))
    with pytest.raises(UserError, match="c of .* hold no usable images;"):
        load_labelled(empty, size=8, log=quiet)

    # the first 2 files in sorted order leave class b without any
    cut = str(tmp_path / "cut")
    write_classes(cut, {"a": 2, "b": 2})
    with pytest.raises(UserError, match="b of .* within the first 2 files"):
        load_labelled(cut, size=8, limit=2, log=quiet)


def test_hidden_and_output_folders(tmp_path):
    root = str(tmp_path / "classes")
    write_classes(root, {"a": 2, "b": 2})
    # a hidden folder of images is a class like any other (it is data)
    write_classes(os.path.join(root, ".extra"), {"c": 1})
    # the run's own output folder inside the data is no class
    os.makedirs(os.path.join(root, "run", "checkpoints"))
    images, _, _, labels, names = load_labelled(
        root, size=8, log=quiet, exclude=run_exclusion(os.path.join(root, "run")))
    assert names == (".extra", "a", "b")
    assert np.bincount(labels).tolist() == [1, 2, 2]
