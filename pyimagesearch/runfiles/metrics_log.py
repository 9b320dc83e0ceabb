"""metrics.csv and ema_metrics.csv: the run folder's log of the quality
numbers (quality/evaluator.py measures them; this writes and reads them),
and where a resumed run's best generator stands."""
import csv
import os

from ..bounded import csv_dicts, read_csv
from ..errors import UserError
from ..quality.evaluator import main_number, summary
from .outputs import EMA_METRICS, METRICS


def row(epoch, result, best_epoch=None):
    values = {"epoch": epoch, "swd": result["swd"]}
    values.update({f"swd_{size}": value
                   for size, value in result["swd_levels"].items()})
    if "fd" in result:
        values.update({"fd": result["fd"], "kid": result["kid"],
                       "kid_std": result["kid_std"],
                       "class_entropy_bits": result["entropy"],
                       "min_class_share": result["min_share"]})
        values.update({f"share_{c}": share
                       for c, share in enumerate(result["shares"])})
    if "accuracy" in result:
        values["accuracy"] = result["accuracy"]
        values.update({f"accuracy_{c}": share for c, share
                       in enumerate(result["class_accuracy"])})
    if best_epoch is not None:
        values["best_epoch"] = best_epoch
    return {key: (f"{value:.6g}" if isinstance(value, float) else value)
            for key, value in values.items()}


def append_csv(path, rows, columns):
    """Append rows to a metrics CSV, writing the header on first use; a
    file with other columns (another data set's, an older version's) is
    refused rather than mixed."""
    new = not os.path.isfile(path)
    if not new:
        header = csv_header(path)
        if header != columns:
            raise UserError(f"{path} holds other columns than this "
                            "measurement writes (another data set's, or "
                            "from an older version): move it away, or pick "
                            "another path")
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def csv_header(path):
    """The first row of a metrics CSV (None for an empty one), read with
    the bounds of every CSV read here."""
    try:
        rows = read_csv(path)
    except csv.Error as e:
        raise UserError(f"{path} is not a CSV file ({e}): move it away, "
                        "or pick another path") from None
    return rows[0] if rows else None


def log_metrics(evaluator, result, epoch, output, ema=False, best=None):
    """Append this epoch's numbers (`result`, measured by `evaluator`) to
    OUTPUT/metrics.csv (ema_metrics.csv for the averaged generator), after
    the real-data floor in a new file, with the epoch of the best so far
    (`best`: (epoch, number) before this one, or None); returns the line
    to log and the new best."""
    path = os.path.join(output, EMA_METRICS if ema else METRICS)
    rows = [] if os.path.isfile(path) else [
        row("real-data floor", evaluator.floor())]
    _, number = main_number(result)
    if best is None or number < best[1]:
        best = (epoch, number)
    try:
        append_csv(path, rows + [row(epoch, result, best[0])],
                   evaluator.fields())
    except OSError as e:
        raise UserError(f"could not write {path} ({e}); make it writable, "
                        "then continue with --resume") from None
    label = "EMA metrics" if ema else "metrics"
    return "[INFO] " + summary(f"{label} at epoch {epoch}", result), best


def set_aside_other_columns(path, columns):
    """A metrics CSV from before this measurement's columns (an older
    version's, FD only) is renamed beside it, never mixed or lost; returns
    the new name, or None when there was nothing to set aside."""
    if not os.path.isfile(path):
        return None
    header = csv_header(path)
    if header is None or header == columns:
        return None
    stem, extension = os.path.splitext(path)
    kept = f"{stem}_old_columns{extension}"
    try:
        os.replace(path, kept)
    except OSError as e:
        raise UserError(f"{path} holds other columns than this run writes "
                        f"and could not be renamed ({e.strerror}); move it "
                        "away, then resume") from None
    return kept


def best_so_far(path):
    """(epoch, number) of the lowest main number in a metrics CSV, or
    None: where a resumed run's "best" stands."""
    best = None
    if not os.path.isfile(path):
        return None
    try:
        for values in csv_dicts(read_csv(path)):
            if not values.get("epoch", "").isdigit():
                continue
            number = float(values["fd"] if values.get("fd")
                           else values["swd"])
            if best is None or number < best[1]:
                best = (int(values["epoch"]), number)
    except (KeyError, ValueError, csv.Error):
        return None
    return best


def generator_to_sample(folder):
    """(path, why) of the generator a user should sample from a run folder:
    of the kept best generators (--metrics-every) the one with the lower
    number, else the averaged generator (--ema), else generator.keras;
    None if the folder holds none."""
    from .outputs import (GENERATOR, GENERATOR_BEST, GENERATOR_EMA,
                          GENERATOR_EMA_BEST)
    bests = []
    for name, csv_name, what in (
            (GENERATOR_EMA_BEST, EMA_METRICS, "the averaged generator"),
            (GENERATOR_BEST, METRICS, "the generator")):
        path = os.path.join(folder, name)
        best = best_so_far(os.path.join(folder, csv_name))
        if os.path.isfile(path) and best is not None:
            bests.append((best[1], path, f"{what} at its best measured "
                          f"epoch ({best[0]}: {best[1]:.3g})"))
    if bests:
        _, path, why = min(bests)
        return path, why
    for name, why in ((GENERATOR_EMA, "the averaged generator (--ema)"),
                      (GENERATOR, "the generator at the end of training")):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path, why
    return None


def generator_path(model):
    """The generator a path names: a run folder's generator to sample
    (generator_to_sample), said in one line; any other path as it is."""
    if not os.path.isdir(model):
        return model
    chosen = generator_to_sample(model)
    if chosen is None:
        raise UserError(f"{model} holds no generator (.keras) yet: train "
                        "it to the end, or name a checkpoint .npz")
    print(f"[INFO] sampling {chosen[0]}: {chosen[1]} (name a file to "
          "choose another)")
    return chosen[0]
