"""Montages: tutorial layout, pixel mapping, schedule, and loud failures."""
import os

import cv2
import numpy as np
import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.runfiles.montage import build_montage, montage_name, write_image


def test_montage_is_16x16_grid_of_28px_tiles():
    images = np.full((256, 28, 28, 1), -1.0, dtype=np.float32)
    images[0] = 1.0            # first tile white
    images[17, :14] = 0.0      # row 1, column 1: top half mid grey
    vis = build_montage(images)
    assert vis.shape == (448, 448, 3) and vis.dtype == np.uint8
    assert (vis[:28, :28] == 255).all()
    assert (vis[28:42, 28:56] == 127).all() and (vis[42:56, 28:56] == 0).all()
    assert (vis[:28, 28:56] == 0).all()


def test_write_image_round_trips(tmp_path):
    vis = build_montage(np.random.uniform(-1, 1, (256, 28, 28, 1)))
    path = str(tmp_path / "m.png")
    write_image(path, vis)
    np.testing.assert_array_equal(cv2.imread(path), vis)


def test_write_into_missing_folder_raises(tmp_path):
    # cv2.imwrite only returns False here; a run must not go on silently
    path = str(tmp_path / "gone" / "m.png")
    with pytest.raises(UserError, match="could not write .*gone"):
        write_image(path, np.zeros((4, 4, 3), np.uint8))
    assert not os.path.exists(path)


@pytest.mark.parametrize("epoch,i,expected", [
    (1, 0, "epoch_0001_step_00000.png"),
    (1, 25, "epoch_0001_step_00025.png"),
    (1, 26, None),
    (10, 500, "epoch_0010_step_00500.png"),
    (10, 510, None),
    (11, 25, None),
    (11, 100, "epoch_0011_step_00100.png"),
    (50, 545, "epoch_0050_output.png"),   # last batch of 546
    (50, 500, "epoch_0050_step_00500.png"),
    (3, 9, "epoch_0003_output.png"),
])
def test_tutorial_schedule(epoch, i, expected):
    assert montage_name(epoch, i, 546 if epoch in (10, 11, 50) or i > 9
                        else 10) == expected


def test_full_run_writes_the_tutorials_510_montages():
    names = {montage_name(e, i, 546) for e in range(1, 51) for i in range(546)}
    names.discard(None)
    assert len(names) == 510
    assert "epoch_0050_step_00500.png" in names


def test_colour_montages_keep_their_colours(tmp_path):
    """Generators make RGB; OpenCV writes BGR: a red image set must give a
    red montage, not a blue one."""
    red = np.full((256, 32, 32, 3), -1.0, dtype=np.float32)
    red[..., 0] = 1.0                            # R channel of RGB
    path = str(tmp_path / "red.png")
    write_image(path, build_montage(red))
    written = cv2.imread(path)                   # BGR
    assert written.shape == (512, 512, 3)
    assert (written[..., 2] == 255).all() and (written[..., :2] == 0).all()
    from PIL import Image
    with Image.open(path) as image:              # and as any viewer sees it
        assert image.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_a_fifo_named_like_a_montage_fails_without_blocking(tmp_path):
    import numpy as np
    path = str(tmp_path / "epoch_0001_output.png")
    os.mkfifo(path)
    with pytest.raises(UserError, match="could not write"):
        write_image(path, np.zeros((8, 8, 3), np.uint8))


def test_any_file_name_is_written(tmp_path):
    import numpy as np
    folder = os.path.join(os.fsencode(str(tmp_path)), b"bad\xff\xfe")
    os.makedirs(folder)
    path = os.fsdecode(os.path.join(folder, b"m.png"))
    write_image(path, np.full((8, 8, 3), 9, np.uint8))
    ok, expected = cv2.imencode(".png", np.full((8, 8, 3), 9, np.uint8))
    with open(path, "rb") as f:
        assert f.read() == expected.tobytes()    # what cv2.imwrite writes
