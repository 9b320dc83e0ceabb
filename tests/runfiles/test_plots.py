"""Loss plot and montage animation."""
import io
import os

import cv2
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from pyimagesearch.runfiles.plots import (epoch_montages, loss_figure,
                                     plot_losses, write_animation)


def test_loss_plot_is_a_png(tmp_path):
    history = [(e, i, 0.5 + 0.1 * np.sin(i), 1.0 + 0.2 * np.cos(i))
               for e in (1, 2) for i in range(10)]
    path = str(tmp_path / "losses.png")
    plot_losses(history, 10, path)
    image = cv2.imread(path)
    assert image.shape == (450, 800, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10   # not blank
    plot_losses(history[:3], 10, path)        # fewer steps than a window
    assert cv2.imread(path) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["losses.png"]
    # the losses span decades over a run: the y axis is logarithmic, and
    # the PNG written is exactly that figure
    for steps in (history, history[:3]):
        fig = loss_figure(steps, 10)
        try:
            (ax,) = fig.axes
            assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
            png = io.BytesIO()
            fig.savefig(png, format="png")
        finally:
            plt.close(fig)
        plot_losses(steps, 10, path)
        with open(path, "rb") as f:
            assert f.read() == png.getvalue()


def test_the_loss_plot_names_the_runs_loss():
    """Cross-entropies on a log scale; the hinge loss, whose G term can be
    negative, on a linear one, each named on the axis."""
    history = [(1, 0, 0.4, 1.2), (1, 1, 0.3, 1.5)]
    hinge = [(1, 0, 0.0, -0.3), (1, 1, 1.2, 0.4)]
    for rows, loss, label, scale in (
            (history, "bce", "binary cross-entropy", "log"),
            (history, "logistic", "logistic loss", "log"),
            (hinge, "hinge", "hinge loss", "linear")):
        fig = loss_figure(rows, 2, loss=loss)
        try:
            assert fig.axes[0].get_ylabel() == label
            assert fig.axes[0].get_yscale() == scale
        finally:
            plt.close(fig)


def test_loss_plot_draws_the_losses_against_epochs():
    """Each loss per step at its time in epochs (step i of epoch e at
    e - 1 + i / steps), and its mean over the last epoch's steps."""
    history = [(1, 0, 0.1, 1.0), (1, 1, 0.3, 2.0), (2, 0, 0.5, 4.0),
               (2, 1, 0.9, 8.0)]
    fig = loss_figure(history, 2)
    try:
        raw_d, mean_d, raw_g, mean_g = fig.axes[0].lines
        np.testing.assert_allclose(raw_d.get_xdata(), [0, 0.5, 1, 1.5])
        np.testing.assert_allclose(raw_d.get_ydata(), [0.1, 0.3, 0.5, 0.9])
        np.testing.assert_allclose(raw_g.get_ydata(), [1, 2, 4, 8])
        np.testing.assert_allclose(mean_d.get_xdata(), [0.5, 1, 1.5])
        np.testing.assert_allclose(mean_d.get_ydata(), [0.2, 0.4, 0.7])
        np.testing.assert_allclose(mean_g.get_ydata(), [1.5, 3, 6])
        assert mean_d.get_label() == "discriminator_loss (mean over 2 steps)"
    finally:
        plt.close(fig)


def test_animation_has_a_frame_per_epoch_montage(tmp_path):
    for epoch, value in ((1, 0), (2, 128), (3, 255)):
        cv2.imwrite(str(tmp_path / f"epoch_{epoch:04d}_output.png"),
                    np.full((448, 448, 3), value, np.uint8))
    cv2.imwrite(str(tmp_path / "epoch_0001_step_00000.png"),
                np.zeros((448, 448, 3), np.uint8))
    frames = epoch_montages(str(tmp_path))
    assert [f.rsplit("/", 1)[1] for f in frames] == [
        "epoch_0001_output.png", "epoch_0002_output.png",
        "epoch_0003_output.png"]
    path = str(tmp_path / "training.gif")
    write_animation(frames, path, size=224)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (224, 224)
        assert gif.info.get("loop") == 0
        gif.seek(2)
        assert np.asarray(gif.convert("L")).mean() > 250


def test_colour_animation_keeps_colours_and_sees_rewritten_frames(tmp_path):
    paths = []
    for epoch, bgr in ((1, (0, 0, 255)), (2, (0, 255, 0))):
        path = str(tmp_path / f"epoch_{epoch:04d}_output.png")
        cv2.imwrite(path, np.full((64, 64, 3), bgr, np.uint8))
        paths.append(path)
    gif_path = str(tmp_path / "training.gif")

    def frame_colours():
        colours = []
        with Image.open(gif_path) as gif:
            for index in range(gif.n_frames):
                gif.seek(index)
                colours.append(gif.convert("RGB").getpixel((3, 3)))
        return colours

    write_animation(paths, gif_path, grey=False)
    assert frame_colours() == [(255, 0, 0), (0, 255, 0)]
    # an unchanged montage is not read again
    from pyimagesearch.runfiles import plots
    read = []
    original = plots.open_montage
    plots.open_montage = lambda path: read.append(path) or original(path)
    try:
        write_animation(paths, gif_path, grey=False)
    finally:
        plots.open_montage = original
    assert read == []
    # a resumed run rewrites a montage: the animation must show the new one
    cv2.imwrite(paths[1], np.full((64, 64, 3), (255, 0, 0), np.uint8))
    os.utime(paths[1], ns=(1, 1))
    write_animation(paths, gif_path, grey=False)
    assert frame_colours() == [(255, 0, 0), (0, 0, 255)]


def test_a_montage_larger_than_pil_opens_makes_a_smaller_frame(
        tmp_path, monkeypatch):
    """1024x1024 images make montages PIL refuses to open (a 16,384-pixel
    side): the frame is read by OpenCV and shrunk to MAX_FRAME_SIDE."""
    from pyimagesearch.runfiles import plots
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(plots, "MAX_FRAME_SIDE", 50)
    # in a folder whose name is not UTF-8 (cv2.imread crashed on it)
    folder = os.path.join(os.fsencode(str(tmp_path)), b"run\xff")
    os.mkdir(folder)
    path = os.path.join(os.fsdecode(folder), "epoch_0001_output.png")
    with open(path, "wb") as f:
        f.write(cv2.imencode(".png", np.full((200, 100, 3), 255,
                                             np.uint8))[1].tobytes())
    gif_path = str(tmp_path / "training.gif")
    for grey in (True, False):
        write_animation([path], gif_path, grey=grey)
        with Image.open(gif_path) as gif:
            assert gif.size == (25, 50)
            assert np.asarray(gif.convert("L")).min() == 255


def test_a_long_run_s_animation_shows_at_most_100_spread_frames():
    from pyimagesearch.runfiles.plots import MAX_ANIMATION_FRAMES, spread
    assert MAX_ANIMATION_FRAMES == 100
    assert spread(list(range(100))) == list(range(100))
    assert spread(list(range(101))) == list(range(0, 101, 2))
    # every 4th and the last, 80 of 316 epochs
    chosen = spread(list(range(316)))
    assert chosen == list(range(0, 316, 4)) + [315]
    assert spread([]) == []


def test_the_run_s_animation_is_spread(tmp_path):
    from pyimagesearch.runfiles.plots import refresh_plots
    for epoch in range(1, 151):
        cv2.imwrite(str(tmp_path / f"epoch_{epoch:04d}_output.png"),
                    np.full((8, 8, 3), epoch, np.uint8))
    refresh_plots(str(tmp_path), [(1, 0, 0.5, 1.0)], 1)
    with Image.open(str(tmp_path / "training.gif")) as gif:
        assert gif.n_frames == 76         # epochs 1, 3, ..., 149 and 150


def test_a_dollar_in_the_datasets_name_is_shown_as_written(tmp_path):
    history = [(1, i, 0.5, 1.0) for i in range(4)]
    path = str(tmp_path / "losses.png")
    plot_losses(history, 2, path, title="d$\\foo{$")   # no mathematics
    assert cv2.imread(path) is not None
