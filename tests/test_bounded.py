"""Files that claim one size and hold another: each read of a compressed
or declared-size input stops at what it declares (and a documented
maximum), so a bomb (small on disk, huge inflated) is one error naming the
file and its claim, read with bounded memory."""
import gzip
import io
import json
import os
import struct
import tarfile
import zipfile

import numpy as np
import pytest

from conftest import peak_rss_mb, write_fashion_dir
from pyimagesearch import bounded
from pyimagesearch.data import readers
from pyimagesearch.errors import UserError
from pyimagesearch.gan import memory
from pyimagesearch.runfiles import checkpoint, comparison

MB = 2 ** 20


def deflated_zeros(f, count):
    """Write `count` zero bytes through f in 1 MB chunks (f compresses)."""
    chunk = bytes(MB)
    for start in range(0, count, MB):
        f.write(chunk[:min(MB, count - start)])


def write_idx_bomb(path, shape, body_bytes):
    """A gzipped IDX file whose header says `shape` and whose body is
    `body_bytes` zeros: a few hundred KB on disk."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(struct.pack(">I", 0x0800 | len(shape))
                + struct.pack(">" + "I" * len(shape), *shape))
        deflated_zeros(f, body_bytes)


def write_npy_member(archive, name, shape, body_bytes=None, dtype="u1"):
    """A deflated .npy member whose header says `shape`, with body_bytes of
    zeros after it (default: what the shape needs)."""
    dtype = np.dtype(dtype)
    if body_bytes is None:
        body_bytes = int(np.prod(shape)) * dtype.itemsize
    with archive.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, {
            "descr": dtype.str, "fortran_order": False, "shape": shape})
        deflated_zeros(f, body_bytes)


def npz_bomb(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, shape, body in members:
            write_npy_member(archive, name, shape, body)


def refusal_peak_mb(module, call, says):
    """The peak memory (MB) a fresh process adds, beyond importing
    pyimagesearch's `module` ("data.readers"), to have `call` refused with
    an error that `says`."""
    package, name = module.rsplit(".", 1)
    imports = f"from pyimagesearch.{package} import {name}"
    code = imports + f"""
try:
    {call}
    refused = False
except Exception as e:
    refused = {says!r} in str(e)
assert refused"""
    return peak_rss_mb(code) - peak_rss_mb(imports)


# -- IDX .gz -----------------------------------------------------------

def test_an_idx_file_inflating_past_its_header_is_refused_in_bounded_memory(
        tmp_path):
    """Its header says 6 images; the body inflates to 512 MB (512 KB on
    disk). It was read whole before; now the read stops one byte past what
    the header declares."""
    folder = tmp_path / "fashion"
    write_fashion_dir(str(folder))
    bomb = folder / "train-images-idx3-ubyte.gz"
    write_idx_bomb(bomb, (6, 28, 28), 512 * MB)
    assert os.path.getsize(bomb) < MB
    with pytest.raises(UserError, match=r"holds more data than its header "
                       r"says shape \(6, 28, 28\)"):
        readers.read_dir(str(folder))
    assert refusal_peak_mb("data.readers", f"readers.read_dir({str(folder)!r})",
                           "holds more data") < 50


def test_an_idx_header_claiming_more_than_the_maximum_is_refused_unread(
        tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx_bomb(path, (100000, 128, 128), 0)     # claims 1.6 GB
    with pytest.raises(UserError, match=r"declares shape \(100000, 128, 128"
                       r"\), 1,638,400,000 bytes of data, over the "
                       r"536,870,912"):
        readers.read_idx(str(path), readers.IMAGES_MAGIC)


def test_an_idx_file_that_is_not_a_regular_file_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    os.mkfifo(path)         # would block an open() reading it
    with pytest.raises(UserError, match="not a regular file"):
        readers.read_idx(str(path), readers.IMAGES_MAGIC)


# -- mnist.npz ---------------------------------------------------------

def test_an_npz_member_claiming_too_much_is_refused_before_inflating(
        tmp_path):
    """x_train claims 200 MB inflated (200 KB on disk): over the 64 MB a
    member of mnist.npz may claim, refused from the zip's directory."""
    path = tmp_path / "mnist.npz"
    npz_bomb(path, [("x_train", (255102, 28, 28), None),
                    ("y_train", (10,), None), ("x_test", (10, 28, 28), None),
                    ("y_test", (10,), None)])
    assert os.path.getsize(path) < MB
    with pytest.raises(UserError, match=r"mnist.npz is corrupt or not "
                       r"Keras' mnist.npz \(ValueError: its member 'x_train' "
                       r"claims 190.7 MB inflated, over the 64.0 MB"):
        readers.read_mnist_npz(str(path))
    assert refusal_peak_mb("data.readers",
                           f"readers.read_mnist_npz({str(path)!r})",
                           "claims") < 20


def test_an_npz_member_whose_array_header_disagrees_is_refused(tmp_path):
    """The zip says 50 MB for the member, its .npy header 10 images."""
    path = tmp_path / "mnist.npz"
    npz_bomb(path, [("x_train", (10, 28, 28), 50 * MB)])
    with pytest.raises(UserError, match="its member 'x_train' claims "
                       "52,428,928 bytes but its array header another size"):
        readers.read_mnist_npz(str(path))


def test_a_zip_of_too_many_members_is_refused_before_its_directory(
        tmp_path):
    """zipfile reads a zip's whole directory at once: the count its end
    record declares is checked first."""
    path = tmp_path / "mnist.npz"
    np.savez(path, **{f"a{index}": np.zeros(1) for index in range(10)})
    with pytest.raises(UserError, match="ValueError: it claims 10 members, "
                       "over the 4 it may hold"):
        readers.read_mnist_npz(str(path))


def test_a_real_sized_mnist_npz_still_reads(tmp_path):
    path = tmp_path / "mnist.npz"
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (7, 28, 28), np.uint8),
              "y_train": np.arange(7, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (3, 28, 28), np.uint8),
              "y_test": np.arange(3, dtype=np.uint8)}
    np.savez_compressed(path, **arrays)
    (train_x, train_y), (test_x, _) = readers.read_mnist_npz(str(path))
    assert np.array_equal(train_x, arrays["x_train"])
    assert np.array_equal(test_x, arrays["x_test"])
    assert train_y.tolist() == list(range(7))


# -- CIFAR-10's tar ----------------------------------------------------

def write_tar(path, members):
    """A .tar.gz of (name, size) members of zeros, streamed."""
    class Zeros(io.RawIOBase):
        def __init__(self, size):
            self.left = size

        def readable(self):
            return True

        def readinto(self, buffer):
            count = min(len(buffer), self.left)
            buffer[:count] = bytes(count)
            self.left -= count
            return count

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, size in members:
            info = tarfile.TarInfo(f"{readers.CIFAR_DIR}/{name}")
            info.size = size
            tar.addfile(info, io.BufferedReader(Zeros(size)))


def test_a_cifar_batch_claiming_more_than_a_batch_is_refused(tmp_path):
    path = tmp_path / readers.CIFAR_TAR
    write_tar(path, [("data_batch_1.bin", 40 * MB)])
    with pytest.raises(UserError, match="its cifar-10-batches-bin/"
                       "data_batch_1.bin claims 41,943,040 bytes, not a batch "
                       "of at most 30,730,000"):
        readers.read_cifar_tar(str(path))


def test_a_cifar_tar_inflating_past_its_maximum_stops_there(tmp_path):
    """A first member of 300 MB of zeros (300 KB on disk) is read through,
    not kept, and the read stops at 256 MB inflated, in bounded memory."""
    path = tmp_path / readers.CIFAR_TAR
    write_tar(path, [("readme.html", 300 * MB)])
    assert os.path.getsize(path) < 2 * MB
    with pytest.raises(UserError, match="inflates past 256.0 MB, the most a "
                       "CIFAR-10 archive may hold"):
        readers.read_cifar_tar(str(path))
    assert refusal_peak_mb("data.readers",
                           f"readers.read_cifar_tar({str(path)!r})",
                           "inflates past") < 50


def test_a_cifar_tar_with_a_huge_extended_header_is_refused_unread(
        tmp_path):
    """A pax header claiming 200 MB (tarfile would read it whole), 200 KB
    on disk: refused from its size, in bounded memory."""
    path = tmp_path / readers.CIFAR_TAR
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 200 * MB
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header.tobuf(tarfile.USTAR_FORMAT))
        deflated_zeros(f, 200 * MB)
    with pytest.raises(UserError, match="corrupt or not CIFAR-10's binary "
                       r"version \(HeaderError: a member's extended header "
                       "claims 209,715,200 bytes, over the 65,536 any has"):
        readers.read_cifar_tar(str(path))
    assert refusal_peak_mb("data.readers",
                           f"readers.read_cifar_tar({str(path)!r})",
                           "extended header") < 20


def test_a_small_cifar_tar_still_reads(tmp_path):
    """Six batches of two records each, as the real archive lays them out."""
    rng = np.random.default_rng(1)
    path = tmp_path / readers.CIFAR_TAR
    batches = {name: rng.integers(0, 256, 2 * readers.CIFAR_RECORD,
                                  np.uint8).tobytes()
               for name in readers.CIFAR_TRAIN + readers.CIFAR_TEST}
    with tarfile.open(path, "w:gz") as tar:
        for name, raw in batches.items():
            info = tarfile.TarInfo(f"{readers.CIFAR_DIR}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    (train_x, train_y), (test_x, test_y) = readers.read_cifar_tar(str(path))
    assert train_x.shape == (10, 32, 32, 3) and test_x.shape == (2, 32, 32, 3)
    first = np.frombuffer(batches["data_batch_1.bin"], np.uint8)
    assert train_y[0] == first[0]
    assert np.array_equal(train_x[0, :, :, 0].ravel(), first[1:1025])


def test_a_cifar_tar_lacking_a_batch_is_named(tmp_path):
    path = tmp_path / readers.CIFAR_TAR
    write_tar(path, [("data_batch_1.bin", readers.CIFAR_RECORD)])
    with pytest.raises(UserError, match="lacks data_batch_2.bin"):
        readers.read_cifar_tar(str(path))


# -- checkpoints -------------------------------------------------------

def test_a_checkpoint_whose_meta_claims_gigabytes_is_refused_unread(
        tmp_path):
    """Its meta JSON padded with 1 GB of spaces (5 MB on disk)."""
    path = tmp_path / "ckpt-00000001.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        with archive.open("meta.npy", "w", force_zip64=True) as f:
            start = json.dumps({"format": checkpoint.FORMAT}).encode()
            size = len(start) + 2 ** 30
            np.lib.format.write_array_header_1_0(f, {
                "descr": "|u1", "fortran_order": False, "shape": (size,)})
            f.write(start)
            chunk = b" " * MB
            for _ in range(1024):
                f.write(chunk)
    assert os.path.getsize(path) < 8 * MB
    for read in (checkpoint.load_checkpoint, checkpoint.load_meta):
        with pytest.raises(UserError, match=r"is corrupt or truncated \("
                           r"ValueError: its member 'meta' claims 1,024.0 MB "
                           r"inflated, over the 1.0 MB it may hold\)"):
            read(str(path))
    assert refusal_peak_mb("runfiles.checkpoint",
                           f"checkpoint.load_meta({str(path)!r})",
                           "claims") < 20


def test_checkpoint_members_are_capped_by_the_memory_limit(tmp_path,
                                                          monkeypatch):
    path = tmp_path / "ckpt-00000001.npz"
    np.savez_compressed(path, meta=np.frombuffer(b"{}", np.uint8),
                        big=np.zeros(3 * MB, np.uint8))
    # a run plans with 80% of the limit: 2 MB
    monkeypatch.setattr(memory, "memory_limit",
                        lambda: (int(2.5 * MB), "a fake cgroup limit"))
    with pytest.raises(UserError, match="its member 'big' claims 3.0 MB "
                       "inflated, over the 2.0 MB"):
        checkpoint.load_checkpoint(str(path))


# -- CSVs given to compare.py ------------------------------------------

def test_a_huge_metrics_csv_is_refused_by_its_size_unread(tmp_path):
    """A sparse file of 100 GB takes no disk and has no newline."""
    path = tmp_path / "metrics.csv"
    with open(path, "wb") as f:
        f.truncate(100 * 2 ** 30)
    with pytest.raises(UserError, match=r"metrics.csv is 102,400.0 MB, over "
                       r"the 64.0 MB a metrics file may be"):
        comparison.read_metrics(str(path))


def test_the_default_row_limit_holds_a_long_run(tmp_path):
    """100,000 rows: a run measured every epoch for 100,000 epochs."""
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,swd\n" + "".join(
        f"{epoch},1.0\n" for epoch in range(1, bounded.MAX_CSV_ROWS + 1)))
    assert len(comparison.read_metrics(str(path))[0]) == bounded.MAX_CSV_ROWS
    with open(path, "a") as f:
        f.write("0,1.0\n")
    with pytest.raises(UserError, match="more than 100,000 rows"):
        comparison.read_metrics(str(path))


@pytest.mark.parametrize("line, count, says", [
    (b"," * (32 * MB), 1, "has a line longer than 65,536 characters"),
    (b"," * 64 + b"\n", 10, "has more than 64 columns in a row"),
    (b"," * 63 + b"\n", 900_000, "has more than 100,000 rows"),
], ids=["one line of commas", "too many columns", "too many rows"])
def test_a_metrics_csv_is_refused_in_bounded_memory(tmp_path, line, count,
                                                    says):
    """Under the size limit: one line of commas (32 MB), a row of too many
    columns, or too many rows of the most columns (58 MB): refused as it
    is read, a row at a time."""
    path = tmp_path / "metrics.csv"
    path.write_bytes(b"epoch,swd\n" + line * count)
    with pytest.raises(UserError, match=says):
        comparison.read_metrics(str(path))
    if "rows" in says:      # the most rows and fields held at once
        assert refusal_peak_mb("runfiles.comparison",
                               f"comparison.read_metrics({str(path)!r})",
                               says) < 150


# -- the helpers themselves ----------------------------------------------

def test_capped_ends_a_stream_past_its_cap():
    stream = bounded.Capped(io.BytesIO(bytes(3 * MB)), 2 * MB, "x.tar.gz",
                            "archive")
    read = 0
    while read < 2 * MB:        # a raw stream's reads may be short
        read += len(stream.read(2 * MB - read))
    with pytest.raises(UserError, match="x.tar.gz inflates past 2.0 MB, "
                       "the most a archive may hold"):
        stream.read(1)


def test_read_exactly_names_short_and_long_files():
    assert bounded.read_exactly(io.BytesIO(b"abcd"), 4, "f", "it says")\
        .tobytes() == b"abcd"
    with pytest.raises(UserError, match="f holds 3 bytes of data but it "
                       "says 4"):
        bounded.read_exactly(io.BytesIO(b"abc"), 4, "f", "it says")
    with pytest.raises(UserError, match="f holds more data than it says "
                       r"\(4 bytes\)"):
        bounded.read_exactly(io.BytesIO(b"abcde"), 4, "f", "it says")

