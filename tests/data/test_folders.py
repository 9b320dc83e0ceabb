"""A folder of images: formats, colours, crop and resize, skipping what
cannot be read, the cache, and the named datasets' conversions."""
import os

import cv2
import numpy as np
import pytest

from conftest import write_photo_folder
from pyimagesearch.data import folders
from pyimagesearch.data.datasets import load_dataset
from pyimagesearch.errors import UserError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(folder))
    return folder


def write(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), image)


def test_colours_come_out_as_rgb(tmp_path, cache):
    red_bgr = np.zeros((40, 60, 3), np.uint8)
    red_bgr[..., 2] = 255                       # OpenCV stores BGR
    write(tmp_path / "red.png", red_bgr)
    write(tmp_path / "red.jpg", red_bgr)
    images, all_grey = folders.load_folder(str(tmp_path), 8, log=lambda _: None)
    assert images.shape == (2, 8, 8, 3) and not all_grey
    for image in images:
        assert image[..., 0].min() > 240 and image[..., 1:].max() < 15


def test_formats_alpha_sixteen_bit_grey(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200                          # blue, half transparent
    rgba[..., 3] = 255
    rgba[:5, :, 3] = 0                          # top half: transparent
    write(tmp_path / "a.png", rgba)
    deep = np.full((10, 10, 3), 65535, np.uint16)
    deep[..., 1] = 0                            # 16-bit magenta
    write(tmp_path / "b.png", deep)
    write(tmp_path / "c.png", np.full((10, 10), 77, np.uint8))   # grey
    blue, _ = folders.decode(str(tmp_path / "a.png"), 10)
    assert (blue[5:, :, 2] == 200).all() and (blue[5:, :, :2] == 0).all()
    assert (blue[:5] == 255).all(), "transparency is laid over white"
    half = np.dstack([np.zeros((2, 2, 3), np.uint8),
                      np.full((2, 2, 1), 128, np.uint8)])
    assert (folders.drop_alpha(half) == 127).all()    # black, half covering
    magenta, _ = folders.decode(str(tmp_path / "b.png"), 10)
    assert (magenta[..., [0, 2]] == 255).all() and (magenta[..., 1] == 0).all()
    grey, is_grey = folders.decode(str(tmp_path / "c.png"), 10)
    assert is_grey and (grey == 77).all() and grey.shape == (10, 10, 3)


def test_centre_crop_and_resize():
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255                        # the centre square is white
    out = folders.square(wide, 10)
    assert out.shape == (10, 10, 3) and out.min() == 255
    tall = np.zeros((40, 20), np.uint8)
    tall[10:30] = 9
    assert (folders.square(tall, 20) == 9).all()
    assert folders.square(np.zeros((4, 4), np.uint8), 8).shape == (8, 8)


def test_a_real_photo_folder(tmp_path, cache):
    folder = str(tmp_path / "photos")
    expected = write_photo_folder(folder)
    lines = []
    images, all_grey = folders.load_folder(folder, 16, log=lines.append)
    assert images.shape == (expected["readable"], 16, 16, 3)
    assert not all_grey
    assert lines[0].startswith(
        f"[INFO] {expected['image_files']} images found in {folder}: "
        f"{expected['readable']} used, 1 skipped; decoded in ")
    assert lines[1] == ("[WARNING] skipped 1 unreadable or corrupt image "
                        "file: nested/deeper/corrupt.jpg")
    # the second time comes from the cache, with the same numbers
    lines.clear()
    again, _ = folders.load_folder(folder, 16, log=lines.append)
    np.testing.assert_array_equal(again, images)
    assert "read from the cache" in lines[0] and len(lines) == 2
    assert len(os.listdir(cache / "images")) == 1
    # another size, or a touched file, is another cache entry
    folders.load_folder(folder, 8, log=lambda _: None)
    assert len(os.listdir(cache / "images")) == 2
    photo = os.path.join(folder, "china_0.png")
    os.utime(photo, ns=(1, 1))
    lines.clear()
    folders.load_folder(folder, 16, log=lines.append)
    assert "decoded in" in lines[0]


@pytest.mark.parametrize("damage", [
    lambda raw: b"garbage",
    lambda raw: raw[:len(raw) // 2],            # a truncated zip
])
def test_a_damaged_cache_is_decoded_again(tmp_path, cache, damage):
    folder = str(tmp_path / "photos")
    write_photo_folder(folder, count=7)
    first, _ = folders.load_folder(folder, 8, log=lambda _: None)
    [entry] = os.listdir(cache / "images")
    path = cache / "images" / entry
    path.write_bytes(damage(path.read_bytes()))
    lines = []
    second, _ = folders.load_folder(folder, 8, log=lines.append)
    assert "decoded in" in lines[0]
    np.testing.assert_array_equal(first, second)


def test_an_all_grey_folder_trains_in_grey(tmp_path, cache):
    for index in range(3):
        write(tmp_path / f"g{index}.png", np.full((9, 9), 10 * index,
                                                  np.uint8))
    images, source, channels = load_dataset(str(tmp_path), size=8,
                                            log=lambda _: None)
    assert channels == 1 and images.shape == (3, 8, 8, 1)
    assert source == str(tmp_path)
    images, _, channels = load_dataset(str(tmp_path), size=8, channels=3,
                                       log=lambda _: None)
    assert channels == 3 and images.shape == (3, 8, 8, 3)


@pytest.mark.parametrize("make,fragment", [
    (lambda path: None, r"no images \(.jpg, .jpeg, .png, .bmp, .tif, "
                        r".tiff\) found in"),
    (lambda path: open(os.path.join(path, "x.png"), "wb").write(b"no"),
     "none of the 1 image files in"),
])
def test_folders_without_usable_images(tmp_path, cache, make, fragment):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "readme.txt").write_text("not an image")
    make(str(folder))
    with pytest.raises(UserError, match=fragment):
        folders.load_folder(str(folder), 8, log=lambda _: None)


def test_channel_conversion_keeps_luminance():
    rgb = np.zeros((1, 4, 4, 3), np.uint8)
    rgb[..., 1] = 255                           # pure green
    grey = folders.to_channels(rgb, 1)
    assert grey.shape == (1, 4, 4, 1) and (grey == 150).all()  # 0.587*255


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """Phone photos store pixels sideways and say so in EXIF; the crop must
    take the picture as it is shown."""
    from PIL import Image
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (255, 0, 0)                 # stored: left half red
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[274] = 6                                # shown rotated 90 degrees
    image.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    decoded, _ = folders.decode(str(tmp_path / "phone.jpg"), 40)
    # shown 40 wide and 80 tall: the centre square straddles red and black
    top, bottom = decoded[:5].mean(axis=(0, 1)), decoded[-5:].mean(axis=(0, 1))
    assert abs(top[0] - bottom[0]) > 150, "orientation was ignored"


def test_grey_with_alpha_counts_as_grey(tmp_path):
    from PIL import Image
    la = np.zeros((8, 8, 2), np.uint8)
    la[..., 0], la[..., 1] = 90, 255
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    image, grey = folders.decode(str(tmp_path / "la.png"), 8)
    assert grey and (image == 90).all()


def test_links_dangling_or_doubled_and_limit(tmp_path, cache):
    folder = tmp_path / "d"
    folder.mkdir()
    for index in range(5):
        write(folder / f"i{index}.png", np.full((9, 9, 3), index, np.uint8))
    os.symlink(folder / "i0.png", folder / "same_as_i0.png")
    os.symlink(tmp_path / "nowhere.png", folder / "broken.png")
    lines = []
    images, _ = folders.load_folder(str(folder), 8, log=lines.append)
    assert len(images) == 5                        # the link to i0 once only
    assert lines[0].startswith(f"[INFO] 6 images found in {folder}: 5 used, "
                               "1 skipped")
    assert lines[1] == ("[WARNING] skipped 1 unreadable or corrupt image "
                        "file: broken.png")
    # --limit decodes only the first files, in sorted order
    lines.clear()
    images, _ = folders.load_folder(str(folder), 8, limit=2, log=lines.append)
    assert [int(image[0, 0, 0]) for image in images] == [0, 1]
    assert "2 used" in lines[0]


def test_odd_file_names(tmp_path, cache):
    name = os.fsdecode(b"bad\xff.png")              # not valid UTF-8
    write(tmp_path / "ok.png", np.zeros((8, 8, 3), np.uint8))
    with open(os.path.join(str(tmp_path), name), "wb") as f:
        f.write(b"not a png")
    lines = []
    images, _ = folders.load_folder(str(tmp_path), 8, log=lines.append)
    assert len(images) == 1
    assert lines[1] == ("[WARNING] skipped 1 unreadable or corrupt image "
                        "file: bad\\xff.png")
