"""A hostile folder of images: what is not a regular file, too big a file,
too many pixels, names that forge log lines or are not UTF-8, images with
no picture, stale caches and the run's own output inside the folder.
Nothing hangs, crashes or runs out of memory: such files are skipped with
the one warning line."""
import os
import time

import cv2
import numpy as np
import pytest

from conftest import peak_rss_mb
from pyimagesearch.data import folders
from pyimagesearch.files import readable_name
from pyimagesearch.runfiles.outputs import run_exclusion


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def put(folder, name, image):
    """Write an image under any file name (bytes), as OpenCV would."""
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(os.fsencode(folder), os.fsencode(name)), "wb") as f:
        f.write(encoded.tobytes())


def good_images(folder, count=3):
    rng = np.random.default_rng(0)
    for index in range(count):
        put(folder, f"good_{index}.png",
            rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))


def load(folder, **kwargs):
    lines = []
    images, _ = folders.load_folder(str(folder), 8, log=lines.append,
                                    **kwargs)
    return images, lines


def test_a_fifo_or_device_is_skipped_not_opened(tmp_path):
    good_images(tmp_path)
    os.mkfifo(tmp_path / "x.png")       # opening it would block for ever
    os.symlink("/dev/zero", tmp_path / "zero.png")   # reading: no end
    start = time.time()
    images, lines = load(tmp_path)
    assert len(images) == 3 and time.time() - start < 30
    assert "x.png (not a regular file)" in lines[1]
    assert "zero.png (not a regular file)" in lines[1]


def test_a_huge_or_sparse_file_is_skipped_by_its_size(tmp_path):
    good_images(tmp_path)
    with open(tmp_path / "huge.png", "wb") as f:
        f.truncate(100 * 2 ** 30)       # 100 GB that take no disk
    images, lines = load(tmp_path)
    assert len(images) == 3
    assert "huge.png (102400 MB, over the 512 MB limit)" in lines[1]


def test_too_many_pixels_are_skipped_from_the_header(tmp_path):
    good_images(tmp_path)
    # a few hundred KB of PNG that would unpack to 400 MB
    put(tmp_path, "bomb.png", np.zeros((10000, 10000, 4), np.uint8))
    assert os.path.getsize(tmp_path / "bomb.png") < 2 ** 20
    images, lines = load(tmp_path)
    assert len(images) == 3
    assert ("bomb.png (10000x10000 pixels, over the 64-megapixel limit)"
            in lines[1])


def decode_peak_mb(path):
    """Peak memory of a fresh process with the folder module imported,
    and of one that also decodes `path`, in MB."""
    imports = "from pyimagesearch.data import folders; import numpy"
    return (peak_rss_mb(imports), peak_rss_mb(
        imports + f"; image, grey = folders.decode({str(path)!r}, 32)"))


def test_decoding_a_large_transparent_image_stays_within_bounds(tmp_path):
    """A 7000x7000 RGBA PNG (49 megapixels, under the limit) is decoded
    in uint8 and laid over white in strips: the decode's peak memory is
    the decoded image and its result, not float32 copies of it (which
    took 1.2 GB more before)."""
    rgba = np.zeros((7000, 7000, 4), np.uint8)
    rgba[:3500, :, 2] = 255
    rgba[:, :3500, 3] = 255                 # left half opaque red
    put(tmp_path, "big.png", rgba)
    del rgba
    base, peak = decode_peak_mb(tmp_path / "big.png")
    # the decoded RGBA image is 187 MB and the colour result 140 MB, with
    # libpng's buffers about 480 MB in all (VmHWM); float32 copies would
    # add 1.2 GB
    assert peak - base < 650, (base, peak)
    image, grey = folders.decode(str(tmp_path / "big.png"), 32)
    assert image[4, 4].tolist() == [255, 0, 0]            # opaque red
    assert image[28, 28].tolist() == [255, 255, 255]      # clear: white


def test_strips_lay_alpha_over_white_exactly_as_the_whole_image():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (folders.ALPHA_ROWS * 2 + 7, 9, 4),
                         dtype=np.uint8)
    colour = image[..., :-1].astype(np.float32)
    alpha = image[..., -1:].astype(np.float32) / 255.0
    whole = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    np.testing.assert_array_equal(folders.drop_alpha(image), whole)


def test_names_cannot_forge_log_lines_and_need_not_be_utf8(tmp_path):
    good_images(tmp_path)
    for name in ("evil\n[ERROR] fake.png", b"bad\xff\xfe.png"):
        path = os.path.join(os.fsencode(str(tmp_path)), os.fsencode(name))
        with open(path, "wb") as f:
            f.write(b"\x89PNG not really")
    images, lines = load(tmp_path)
    assert len(images) == 3 and len(lines) == 2
    assert lines[1].startswith("[WARNING] skipped 2 ")
    assert "\n" not in lines[1] and "evil\\n[ERROR] fake.png" in lines[1]
    assert "bad\\xff\\xfe.png" in lines[1]
    assert readable_name("a\tb\x1b[31m") == "a\\tb\\x1b[31m"


def test_a_float_image_with_nan_is_skipped(tmp_path):
    good_images(tmp_path)
    picture = np.full((16, 16, 3), 0.5, np.float32)
    picture[3, 3] = np.nan
    assert cv2.imwrite(str(tmp_path / "nan.tif"), picture)
    images, lines = load(tmp_path)
    assert len(images) == 3 and "nan.tif" in lines[1]


def test_the_runs_output_inside_the_folder_is_not_data(tmp_path):
    good_images(tmp_path)
    good_images(tmp_path / "out", count=5)       # montages, losses.png...
    assert len(load(tmp_path)[0]) == 8
    images, lines = load(tmp_path, exclude=run_exclusion(str(tmp_path / "out")))
    assert len(images) == 3 and lines[0].startswith("[INFO] 3 images found")


def test_an_edit_with_size_and_mtime_put_back_is_decoded_again(tmp_path):
    def bmp(value):       # uncompressed: the same size whatever it shows
        return cv2.imencode(".bmp", np.full((24, 24, 3), value, np.uint8))[1]

    path = tmp_path / "a.bmp"
    path.write_bytes(bmp(0).tobytes())
    before = os.stat(path)
    first, _ = load(tmp_path)
    time.sleep(0.01)
    path.write_bytes(bmp(255).tobytes())
    assert os.path.getsize(path) == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    second, lines = load(tmp_path)
    assert "decoded in" in lines[0]
    assert first.max() == 0 and second.min() == 255


def test_a_killed_cache_write_is_cleaned_up_later(tmp_path, cache):
    good_images(tmp_path)
    stale = cache / "images" / ".tmp-killed"
    fresh = cache / "images" / ".tmp-writing-now"
    os.makedirs(stale.parent)
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 2 * folders.STALE_SECONDS
    os.utime(stale, (old, old))
    load(tmp_path)
    assert not stale.exists() and fresh.exists()


@pytest.mark.parametrize("layout", ["output is the data", "output above"])
def test_an_output_at_or_above_the_data_keeps_the_data(tmp_path, layout):
    data = tmp_path / "images"
    good_images(data)
    put(data, "epoch_0001_output.png", np.zeros((24, 24, 3), np.uint8))
    output = data if layout == "output is the data" else tmp_path
    put(output, "losses.png", np.zeros((24, 24, 3), np.uint8))
    images, lines = load(data, exclude=run_exclusion(str(output)))
    # the data stays data; only a run's own files beside it are left out
    assert len(images) == (3 if layout == "output is the data" else 4)


def test_a_large_float_image_is_converted_in_strips(tmp_path):
    """A float TIFF is turned to 8 bits a strip at a time: the decode costs
    the decoded image, not the four float copies it took before."""
    picture = np.zeros((3000, 3000, 3), np.float32)
    picture[:, :1500] = 0.5
    assert cv2.imwrite(str(tmp_path / "float.tif"), picture)
    del picture
    base, peak = decode_peak_mb(tmp_path / "float.tif")
    # decoded: 103 MB of float32, and OpenCV's buffers: about 310 MB in
    # all (VmHWM); the float copies took about 330 MB more
    assert peak - base < 400, (base, peak)
    image, grey = folders.decode(str(tmp_path / "float.tif"), 32)
    assert image[16, 4].tolist() == [128, 128, 128] and grey
