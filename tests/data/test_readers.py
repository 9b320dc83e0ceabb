"""The offline-first loader: IDX parsing, corrupt files, search order."""
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, write_fashion_dir, write_idx
from pyimagesearch.data import datasets, readers
from pyimagesearch.errors import UserError


@pytest.fixture
def no_default_dirs(monkeypatch, tmp_path):
    """Point Keras' cache and Debian's folder at empty places."""
    monkeypatch.delenv(readers.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-cache"))
    monkeypatch.setattr(readers, "DEBIAN_DIR", str(tmp_path / "no-debian"))


def test_reads_the_four_files(fashion_dir, no_default_dirs):
    folder, arrays = fashion_dir
    ((train_x, train_y), (test_x, test_y)), source = \
        readers.load_fashion_mnist(folder, download=False)
    assert source == folder
    np.testing.assert_array_equal(train_x, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(train_y, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(test_x, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(test_y, arrays["t10k-labels-idx1-ubyte.gz"])
    assert train_x.dtype == np.uint8 and train_x.shape == (6, 28, 28)


def labels_for_images(path, arrays):
    # a labels file where the images should be
    write_idx(path, arrays["train-labels-idx1-ubyte.gz"])


def truncate_gzip(path, arrays):
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])


def not_gzip(path, arrays):
    open(path, "wb").write(b"<html>proxy error</html>")


def idx_body_short(path, arrays):
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-28])  # one image row short: a valid gzip, bad IDX


@pytest.mark.parametrize("damage,name,message", [
    (labels_for_images, "train-images-idx3-ubyte.gz",
     "train-images-idx3-ubyte.gz has IDX magic number 2049, expected 2051"),
    (truncate_gzip, "t10k-images-idx3-ubyte.gz",
     "t10k-images-idx3-ubyte.gz is corrupt or truncated"),
    (not_gzip, "train-labels-idx1-ubyte.gz",
     "train-labels-idx1-ubyte.gz is corrupt or truncated"),
    (idx_body_short, "train-images-idx3-ubyte.gz",
     "header says shape \\(6, 28, 28\\)"),
])
def test_a_damaged_file_is_named(fashion_dir, damage, name, message):
    folder, arrays = fashion_dir
    damage(os.path.join(folder, name), arrays)
    with pytest.raises(UserError, match=message):
        readers.read_dir(folder)


def test_images_and_labels_must_agree(tmp_path):
    folder = str(tmp_path / "d")
    write_fashion_dir(folder)
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"),
              np.zeros(5))
    with pytest.raises(UserError, match="do not match"):
        readers.read_dir(folder)


def test_search_order(monkeypatch, tmp_path):
    home = tmp_path / "home"
    cache = home / ".keras" / "datasets" / "fashion-mnist"
    debian = tmp_path / "debian"
    write_fashion_dir(str(cache), n_train=3)
    write_fashion_dir(str(debian), n_train=5)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(readers.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(readers, "DEBIAN_DIR", str(debian))
    # Keras' cache comes before Debian's folder
    (train, _), source = readers.load_fashion_mnist(download=False)
    assert source == str(cache) and len(train[0]) == 3
    # --data-dir comes first of all
    given = tmp_path / "given"
    write_fashion_dir(str(given), n_train=2)
    (train, _), source = readers.load_fashion_mnist(str(given), download=False)
    assert source == str(given) and len(train[0]) == 2
    # $DCGAN_DATA_DIR comes before the cache, after --data-dir
    variable = tmp_path / "variable"
    write_fashion_dir(str(variable), n_train=4)
    monkeypatch.setenv(readers.DATA_DIR_VARIABLE, str(variable))
    assert readers.search_dirs()[0] == str(variable)
    (train, _), source = readers.load_fashion_mnist(download=False)
    assert source == str(variable) and len(train[0]) == 4
    (train, _), _ = readers.load_fashion_mnist(str(given), download=False)
    assert len(train[0]) == 2
    # a variable naming a folder without the files is an error, as
    # --data-dir would be, not skipped in silence
    monkeypatch.setenv(readers.DATA_DIR_VARIABLE, str(tmp_path / "empty"))
    with pytest.raises(UserError, match=r"\$DCGAN_DATA_DIR .*empty lacks "
                                        "train-images-idx3-ubyte.gz"):
        readers.load_fashion_mnist(download=False)
    monkeypatch.delenv(readers.DATA_DIR_VARIABLE)
    # an incomplete cache is skipped, not half-read
    os.remove(cache / "t10k-labels-idx1-ubyte.gz")
    (train, _), source = readers.load_fashion_mnist(download=False)
    assert source == str(debian) and len(train[0]) == 5


def test_keras_home_is_honoured_as_keras_does(monkeypatch, tmp_path):
    keras_home = tmp_path / "elsewhere"
    write_fashion_dir(str(keras_home / "datasets" / "fashion-mnist"),
                      n_train=7)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setattr(readers, "DEBIAN_DIR", str(tmp_path / "no-debian"))
    (train, _), source = readers.load_fashion_mnist(download=False)
    assert source == str(keras_home / "datasets" / "fashion-mnist")
    assert len(train[0]) == 7


@pytest.mark.slow      # end to end, and slow: README's second command
@pytest.mark.parametrize("keras_home", [None, "/some/where/else"])
def test_keras_home_is_where_keras_looks(keras_home):
    """The same folder Keras' own download would use, with and without
    KERAS_HOME (Keras reads it once, at import: ask a fresh process)."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    if keras_home:
        env["KERAS_HOME"] = keras_home
    probe = ("import keras.src.backend.config as c; "
             "from pyimagesearch.data import readers; "
             "print(c.keras_home()); print(readers.keras_home())")
    lines = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT,
                           capture_output=True, text=True,
                           check=True).stdout.split()
    assert lines[0] == lines[1]
    if keras_home:
        assert lines[0] == keras_home


def test_incomplete_data_dir_names_missing_files(fashion_dir):
    folder, _ = fashion_dir
    os.remove(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(UserError, match="lacks t10k-labels-idx1-ubyte.gz"):
        readers.load_fashion_mnist(folder, download=False)


def test_keras_download_is_the_last_fallback(no_default_dirs, monkeypatch):
    from tensorflow.keras.datasets import fashion_mnist
    calls = []

    def fake_load():
        calls.append(1)
        x = np.zeros((2, 28, 28), np.uint8)
        return (x, np.zeros(2)), (x, np.zeros(2))

    monkeypatch.setattr(fashion_mnist, "load_data", fake_load)
    (train, _), source = readers.load_fashion_mnist()
    assert calls and source == "Keras download" and train[0].shape == (2, 28, 28)


def test_nothing_found_says_where_and_how_to_fix(no_default_dirs, monkeypatch,
                                                 tmp_path):
    from tensorflow.keras.datasets import fashion_mnist

    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(fashion_mnist, "load_data", offline)
    with pytest.raises(UserError) as info:
        readers.load_fashion_mnist()
    message = str(info.value)
    assert "no-cache" in message and "no-debian" in message
    assert "Keras download failed (Temporary failure" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--data-dir" in message
    assert "\n" not in message


def test_scaling_to_tanh_range():
    images = np.array([[[0, 255], [128, 127]]], dtype=np.uint8)
    scaled = datasets.to_unit_range(images)
    assert scaled.dtype == np.float32 and scaled.shape == (1, 2, 2)
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_allclose(scaled[0, 1], [0.5 / 127.5, -0.5 / 127.5])
    assert datasets.scale_images(images).shape == (1, 2, 2, 1)


def test_fingerprint_is_the_hash_of_the_scaled_images():
    """Chunked, but the same sha1 as hashing the whole float32 array at
    once, as checkpoints written before uint8 storage recorded it."""
    import hashlib
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1),
                                               dtype=np.uint8)
    whole = hashlib.sha1(datasets.to_unit_range(images).tobytes()).hexdigest()
    assert datasets.fingerprint(images, chunk=3) == whole
    assert datasets.fingerprint(images[:9]) != whole


def test_real_data_is_the_full_set(real_data):
    ((train_x, train_y), (test_x, test_y)), source = \
        readers.load_fashion_mnist(real_data, download=False)
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_y.shape == (60000,) and set(np.unique(test_y)) == set(range(10))


def test_without_the_real_data_the_suite_stops_in_one_line(tmp_path):
    """The tests' real-data fixture searches as the script does; when the
    data is nowhere, pytest stops at once and says how to get it."""
    (tmp_path / "test_needs_data.py").write_text(
        "def test_needs_data(real_data):\n    pass\n\n\n"
        "def test_later():\n    pass\n")
    code = ("import sys; sys.path[:0] = [{root!r}, {tests!r}]; "
            "from pyimagesearch.data import readers; "
            "readers.DEBIAN_DIR = {debian!r}; import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'conftest', {test!r}]))"
            ).format(root=ROOT, tests=os.path.join(ROOT, "tests"),
                     debian=str(tmp_path / "no-debian"),
                     test=str(tmp_path / "test_needs_data.py"))
    env = {key: value for key, value in os.environ.items()
           if key != readers.DATA_DIR_VARIABLE}
    env.update(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / "no-cache"))
    result = subprocess.run([sys.executable, "-c", code], env=env,
                            cwd=str(tmp_path), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 4, result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines()
            if "the tests need the real Fashion-MNIST" in line]
    assert len(said) == 1, result.stdout
    assert "apt-get install dataset-fashion-mnist" in said[0]
    assert "DCGAN_DATA_DIR" in said[0]
    assert "test_later" not in result.stdout and "passed" not in result.stdout
