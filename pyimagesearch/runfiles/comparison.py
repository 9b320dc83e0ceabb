"""compare.py's work: read the quality numbers of several runs and plot
them over epochs (or images shown) in one picture, each curve named by the
run's switches."""
import csv
import dataclasses
import os

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..bounded import csv_dicts, read_csv  # noqa: E402
from ..errors import UserError  # noqa: E402
from ..files import atomic_write, readable_name  # noqa: E402
from .checkpoint import latest_checkpoint, load_meta  # noqa: E402
from .config import RunConfig  # noqa: E402
from .outputs import EMA_METRICS, METRICS  # noqa: E402
from .plots import as_text  # noqa: E402

# (CSV column, panel title, lower is better): those a run's CSV has
PANELS = (("swd", "SWD x1000 (pyramid patches)", True),
          ("fd", "FD (classifier features)", True),
          ("kid", "KID", True),
          ("class_entropy_bits", "class entropy (bits, best log2 10 = 3.32)",
           False),
          ("min_class_share", "smallest class share (best 0.1)", False))
FLOOR = "real-data floor"
# compare.py --x: what the x axis counts
X_LABELS = {"epoch": "epoch", "kimg": "thousand images shown (kimg)"}


def read_metrics(path):
    """({epoch: {column: value}}, floor row or None) from a metrics CSV,
    with the columns of PANELS it has (an older run's has no SWD)."""
    epochs, floor = {}, None
    try:
        rows = read_csv(path)
        keys = [key for key, _, _ in PANELS if key in (rows or [[]])[0]]
        if not keys:
            raise KeyError("no quality column")
        for row in csv_dicts(rows):
            values = {key: float(row[key]) for key in keys}
            if row["epoch"] == FLOOR:
                floor = values
            else:
                epochs[int(row["epoch"])] = values
    except (KeyError, ValueError, TypeError, csv.Error) as e:
        raise UserError(f"{path} is not a metrics file of this project "
                        f"({type(e).__name__}: {e})") from None
    return epochs, floor


def run_config(folder):
    """The RunConfig of the run in `folder`, from its newest checkpoint
    (None: no readable checkpoint)."""
    checkpoint = latest_checkpoint(folder)
    try:
        settings = load_meta(checkpoint).get("settings", {}) \
            if checkpoint else None
    except UserError:
        settings = None
    return None if settings is None else RunConfig.from_saved(settings)


def run_label(folder, config):
    """'FOLDER: --noise normal' from the run's settings, the averaging
    (--ema) left out: it gets a curve of its own."""
    name = as_text(readable_name(os.path.normpath(folder)))
    if config is None:
        return name + " (settings unknown: no readable checkpoint)"
    flags = dataclasses.replace(config, ema=None).tip_flags()
    if config.shared_optimizer:
        flags = ("--shared-optimizer " + flags).strip()
    if config.conditional:
        flags = (f"--conditional {config.conditional} " + flags).strip()
    return f"{name}: {flags or 'the tutorial recipe'}"


def in_kimg(folder, config, epochs):
    """{kimg: values} of a run's {epoch: values}: the images it had shown
    by each epoch, from its settings (batch size, image count)."""
    if config is None or not config.images_per_epoch:
        raise UserError(f"{folder} has no checkpoint that says how many "
                        "images an epoch shows (none, or one from before "
                        "images were counted): compare it with --x epoch")
    return {config.kimg_of(epoch): values for epoch, values in epochs.items()}


def read_runs(folders, x="epoch"):
    """[(label, {x: values}, run number, averaged?)] for each run, and
    its averaged generator when it has one, at each epoch measured (x
    "epoch") or each thousand images shown by then ("kimg"); and the
    real-data floor, when every run that has one was measured against the
    same (None when they differ: runs on other data, or another --limit)."""
    series, floors = [], []
    for number, folder in enumerate(folders):
        if not os.path.isdir(folder):
            raise UserError(f"{folder} is not a folder; pass training "
                            "runs' --output folders")
        path = os.path.join(folder, METRICS)
        if not os.path.isfile(path):
            raise UserError(f"{folder} has no {METRICS}: train with "
                            "--metrics-every N to measure a run")
        config = run_config(folder)
        label = run_label(folder, config)
        ema = config.ema if config else None
        epochs, run_floor = read_metrics(path)
        if run_floor is not None and run_floor not in floors:
            floors.append(run_floor)
        curves = [(label, epochs, False)]
        ema_path = os.path.join(folder, EMA_METRICS)
        if os.path.isfile(ema_path):
            curves.append((f"{label}, averaged G (--ema {ema:g})"
                           if ema else f"{label}, averaged G",
                           read_metrics(ema_path)[0], True))
        for name, points, averaged in curves:
            if x == "kimg":
                points = in_kimg(folder, config, points)
            series.append((name, points, number, averaged))
    if len(floors) > 1:
        print("[INFO] the runs were measured against different real images "
              "(other data, or another --limit): no floor drawn, and their "
              "numbers compare only roughly")
    return series, (floors[0] if len(floors) == 1 else None)


def panels(series):
    """The panels every run can fill: SWD alone unless all are
    Fashion-MNIST runs with the classifier's numbers too."""
    return [panel for panel in PANELS
            if all(panel[0] in values for _, epochs, _, _ in series
                   for values in epochs.values())]


def main_number(values):
    """('FD', value) where the classifier's numbers are, else ('SWD', ...)."""
    key = "fd" if "fd" in values else "swd"
    return key.upper(), values[key]


def plot_comparison(series, floor, path, x="epoch"):
    """Write the panels of `series` over `x` (X_LABELS) to `path`; returns
    the x axis' label of each panel drawn."""
    shown = panels(series)
    if not shown:
        raise UserError("these runs share no quality number to plot (SWD "
                        "is in runs measured since it exists, FD only in "
                        "older Fashion-MNIST runs): compare them apart")
    rows = (len(shown) + 1) // 2
    columns = 1 if len(shown) == 1 else 2
    fig, axes = plt.subplots(rows, columns, figsize=(13, 4.5 * rows + 1),
                             dpi=100, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, (key, title, lower_better) in zip(axes.flat, shown):
        for label, points, number, averaged in series:
            at = sorted(points)
            # a run's averaged generator: dashed, in its run's colour
            ax.plot(at, [points[p][key] for p in at],
                    "--" if averaged else "-", marker="o", markersize=3,
                    label=label, color=f"C{number % 10}")
        if floor and key in floor:
            ax.axhline(floor[key], color="grey", linestyle=":",
                       label=f"{FLOOR} (real images)")
        ax.set_title(title + (" - lower is better" if lower_better else
                              " - higher is better"))
        ax.set_xlabel(X_LABELS[x])
        if key in ("fd", "swd"):   # KID, unbiased, goes below 0: linear
            ax.set_yscale("log")
        if x == "epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9)
    legend_rows = (len(labels) + 1) // 2
    fig.tight_layout(rect=(0, (0.3 + 0.25 * legend_rows) / (4.5 * rows + 1),
                           1, 1))
    labels = [ax.get_xlabel() for ax in axes.flat[:len(shown)]]
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png"))
    except OSError as e:
        raise UserError(f"could not write {path} ({e.strerror}); pick a "
                        "writable path with --output") from None
    finally:
        plt.close(fig)
    return labels
