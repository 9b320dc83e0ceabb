"""What a person looks at after a run: the loss curves and an animation of
the end-of-epoch montages."""
import os

import cv2
import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ..errors import UserError  # noqa: E402
from ..files import atomic_write  # noqa: E402
from .outputs import ANIMATION, LOSS_PLOT, epoch_montages  # noqa: E402


def as_text(name):
    """A name shown as written: matplotlib reads $...$ as mathematics (and
    fails on what is not)."""
    return name.replace("$", r"\$")


# the y axis' label for each --loss (gan/losses.py's names)
LOSS_LABELS = {"bce": "binary cross-entropy", "logistic": "logistic loss",
               "hinge": "hinge loss"}


def plot_losses(history, batches_per_epoch, path, title="Fashion-MNIST",
                loss="bce"):
    """D and G loss per step (faint) and their running mean over an epoch
    (bold), against training time in epochs."""
    fig = loss_figure(history, batches_per_epoch, title, loss)
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)


def loss_figure(history, batches_per_epoch, title="Fashion-MNIST",
                loss="bce"):
    """The figure plot_losses writes; the caller closes it."""
    history = np.asarray(history, dtype=np.float64).reshape(-1, 4)
    x = history[:, 0] - 1 + history[:, 1] / batches_per_epoch
    window = max(1, min(batches_per_epoch, len(history)))
    kernel = np.ones(window) / window
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for column, label, color in ((2, "discriminator_loss", "tab:blue"),
                                 (3, "adversarial_loss", "tab:orange")):
        ax.plot(x, history[:, column], color=color, alpha=0.25, linewidth=0.5)
        if len(history) >= window:
            smooth = np.convolve(history[:, column], kernel, mode="valid")
            ax.plot(x[window - 1:], smooth, color=color, linewidth=2,
                    label=f"{label} (mean over {window} steps)")
        else:
            ax.plot([], [], color=color, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(LOSS_LABELS[loss])
    # a log scale where every loss is positive (cross-entropies); the
    # hinge loss's G term (-logit) can be 0 or negative
    if len(history) and np.all(history[:, 2:] > 0):
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    ax.set_title(f"DCGAN on {as_text(title)}: losses")
    fig.tight_layout()
    return fig


# colour frames already reduced to a GIF palette, by (path, mtime, size):
# the animation is rewritten after epochs, and reducing a 512x512 colour
# montage takes 0.2 s, so redoing all of them would grow with the square
# of the epochs
_palette_frames = {}


# a GIF frame's largest side: a montage of 1024x1024 images is 16,384
# pixels wide, more than PIL opens (its decompression-bomb guard) and a GIF
# of gigabytes
MAX_FRAME_SIDE = 2048


def open_montage(path):
    """A montage this run wrote, at most MAX_FRAME_SIDE a side, decoded by
    OpenCV (whose limit is far above PIL's; read by Python, since
    cv2.imread crashes on a path that is not UTF-8)."""
    with open(path, "rb") as f:
        raw = np.frombuffer(f.read(), np.uint8)
    pixels = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if pixels is None:
        raise OSError(f"cannot read the montage {path}")
    scale = MAX_FRAME_SIDE / max(pixels.shape[:2])
    if scale < 1:
        pixels = cv2.resize(pixels, None, fx=scale, fy=scale,
                            interpolation=cv2.INTER_AREA)
    return Image.fromarray(np.ascontiguousarray(pixels[..., ::-1]))


def gif_frame(path, size=None, grey=True):
    if grey:
        image = open_montage(path).convert("L")
        return image.resize((size, size), Image.LANCZOS) if size else image
    # a colour frame is read and quantized once (a run rewrites its GIF
    # from every montage after epochs)
    key = (path, os.stat(path).st_mtime_ns, size)
    if key not in _palette_frames:
        image = open_montage(path)
        if size:
            image = image.resize((size, size), Image.LANCZOS)
        _palette_frames[key] = image.quantize(256)
    return _palette_frames[key]


# the most montages training.gif shows: rewriting a GIF of every epoch
# after epochs costs more with every epoch (a folder's recipe runs
# hundreds)
MAX_ANIMATION_FRAMES = 100


def spread(frames, most=MAX_ANIMATION_FRAMES):
    """At most `most` of `frames`: all, else every 2nd, 4th, ... and the
    last (a choice that changes only when the stride doubles, so the
    frames already read stay in use)."""
    stride = 1
    while True:
        chosen = frames[::stride]
        if chosen and chosen[-1] != frames[-1]:
            chosen.append(frames[-1])
        if len(chosen) <= most:
            return chosen
        stride *= 2


def write_animation(frames, path, seconds_per_frame=0.4, size=None,
                    grey=True):
    """An endlessly looping GIF of the montage files in `frames`."""
    images = [gif_frame(frame, size, grey) for frame in frames]
    if not grey:          # forget frames no longer in the GIF, or rewritten
        current = {(frame, os.stat(frame).st_mtime_ns, size)
                   for frame in frames}
        for key in set(_palette_frames) - current:
            del _palette_frames[key]
    if not images:
        return
    durations = [int(1000 * seconds_per_frame)] * len(images)
    durations[-1] = 2000      # linger on the final result
    atomic_write(path, lambda f: images[0].save(
        f, format="GIF", save_all=True, append_images=images[1:],
        duration=durations, loop=0, optimize=True))


def refresh_plots(output, history, batches_per_epoch, title="Fashion-MNIST",
                  grey=True, loss="bce"):
    """Rewrite OUTPUT/losses.png and OUTPUT/training.gif after an epoch."""
    try:
        plot_losses(history, batches_per_epoch,
                    os.path.join(output, LOSS_PLOT), title, loss)
        write_animation(spread(epoch_montages(output)),
                        os.path.join(output, ANIMATION), grey=grey)
    except OSError as e:
        raise UserError(f"could not write the plots in {output} ({e}); make "
                        "it writable, then continue with --resume") from None
