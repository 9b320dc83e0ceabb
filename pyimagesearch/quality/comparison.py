"""compare.py's work: read the quality numbers of several runs and plot
them over epochs in one picture, each curve named by the run's switches."""
import csv
import dataclasses
import os

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..errors import UserError  # noqa: E402
from ..files import atomic_write, readable_name  # noqa: E402
from ..run.checkpoint import latest_checkpoint, load_meta  # noqa: E402
from ..run.config import RunConfig  # noqa: E402
from ..run.outputs import EMA_METRICS, METRICS  # noqa: E402
from ..run.plots import as_text  # noqa: E402

# (CSV column, panel title, lower is better)
PANELS = (("fd", "FD (classifier features)", True),
          ("kid", "KID", True),
          ("class_entropy_bits", "class entropy (bits, best log2 10 = 3.32)",
           False),
          ("min_class_share", "smallest class share (best 0.1)", False))
FLOOR = "real-data floor"


def read_metrics(path):
    """({epoch: {column: value}}, floor row or None) from a metrics CSV."""
    epochs, floor = {}, None
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                values = {key: float(row[key]) for key, _, _ in PANELS}
                if row["epoch"] == FLOOR:
                    floor = values
                else:
                    epochs[int(row["epoch"])] = values
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as e:
        raise UserError(f"{path} is not a metrics file of this project "
                        f"({type(e).__name__}: {e})") from None
    return epochs, floor


def run_label(folder):
    """'FOLDER: --noise normal' from the run's newest checkpoint, the
    averaging (--ema) left out: it gets a curve of its own."""
    name = as_text(readable_name(os.path.normpath(folder)))
    checkpoint = latest_checkpoint(folder)
    try:
        settings = load_meta(checkpoint).get("settings", {}) \
            if checkpoint else None
    except UserError:
        settings = None
    if settings is None:
        return name + " (settings unknown: no readable checkpoint)", None
    config = RunConfig.from_saved(settings)
    flags = dataclasses.replace(config, ema=None).tip_flags()
    if config.shared_optimizer:
        flags = ("--shared-optimizer " + flags).strip()
    return f"{name}: {flags or 'the tutorial recipe'}", config.ema


def read_runs(folders):
    """[(label, {epoch: values}, run number, averaged?)] for each run, and
    its averaged generator when it has one; and the first real-data floor
    found."""
    series, floor = [], None
    for number, folder in enumerate(folders):
        if not os.path.isdir(folder):
            raise UserError(f"{folder} is not a folder; pass training "
                            "runs' --output folders")
        path = os.path.join(folder, METRICS)
        if not os.path.isfile(path):
            raise UserError(f"{folder} has no {METRICS}: train with "
                            "--metrics-every N to measure a run")
        label, ema = run_label(folder)
        epochs, run_floor = read_metrics(path)
        floor = floor or run_floor
        series.append((label, epochs, number, False))
        ema_path = os.path.join(folder, EMA_METRICS)
        if os.path.isfile(ema_path):
            series.append((f"{label}, averaged G (--ema {ema:g})"
                           if ema else f"{label}, averaged G",
                           read_metrics(ema_path)[0], number, True))
    return series, floor


def plot_comparison(series, floor, path):
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), dpi=100)
    for ax, (key, title, lower_better) in zip(axes.flat, PANELS):
        for label, epochs, number, averaged in series:
            x = sorted(epochs)
            # a run's averaged generator: dashed, in its run's colour
            ax.plot(x, [epochs[e][key] for e in x], "--" if averaged else "-",
                    marker="o", markersize=3, label=label,
                    color=f"C{number % 10}")
        if floor:
            ax.axhline(floor[key], color="grey", linestyle=":",
                       label=f"{FLOOR} (real images)")
        ax.set_title(title + (" - lower is better" if lower_better else
                              " - higher is better"))
        ax.set_xlabel("epoch")
        if key == "fd":      # KID, unbiased, goes to 0 and below: linear
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(labels) + 1) // 2), 1, 1))
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png"))
    except OSError as e:
        raise UserError(f"could not write {path} ({e.strerror}); pick a "
                        "writable path with --output") from None
    finally:
        plt.close(fig)
