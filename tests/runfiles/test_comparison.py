"""compare.py's plot over epochs or images shown (its runs end to end:
tests/scripts/test_small_data.py, tests/gan/test_tips.py)."""
import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.runfiles.comparison import in_kimg, plot_comparison
from pyimagesearch.runfiles.config import RunConfig

SERIES = [("run", {1: {"swd": 30.0}, 2: {"swd": 20.0}}, 0, False),
          ("run, averaged G", {1: {"swd": 25.0}, 2: {"swd": 15.0}}, 0, True)]


def test_the_x_axis_says_what_it_counts(tmp_path):
    path = str(tmp_path / "c.png")
    assert plot_comparison(SERIES, {"swd": 9.7}, path) == ["epoch"]
    assert plot_comparison(SERIES, {"swd": 9.7}, path, "kimg") == [
        "thousand images shown (kimg)"]


def test_epochs_in_thousands_of_images_shown():
    # 2,988 images in batches of 32: 93 full batches, 2,976 images an epoch
    config = RunConfig(batch_size=32, num_images=2988)
    assert in_kimg("run", config, {1: "a", 316: "b"}) == {2.976: "a",
                                                          940.416: "b"}
    with pytest.raises(UserError, match="run has no checkpoint that says"):
        in_kimg("run", RunConfig(), {1: "a"})
    with pytest.raises(UserError, match="compare it with --x epoch"):
        in_kimg("run", None, {1: "a"})
