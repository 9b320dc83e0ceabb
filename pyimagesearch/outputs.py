"""The output folder of a run: which files in it are this project's, and
the rule that a new run never writes over another run's files."""
import csv
import io
import os
import re

from .checkpoint import SUBDIR as CHECKPOINTS
from .errors import UserError
from .files import atomic_write

METRICS = "metrics.csv"
# every file a run writes at the top of --output, and nothing else
RUN_FILES = re.compile(r"^(?:epoch_\d{4,}_(?:output|step_\d{5,})\.png"
                       r"|generator\.keras|metrics\.csv"
                       r"|losses\.png|training\.gif)$")
CHECKPOINT_FILES = re.compile(r"^(?:ckpt-\d{8,}\.npz|\.tmp-.*)$")


def run_files(output):
    """Paths of this project's files in `output` (montages, plots,
    generator, metrics, checkpoints), sorted; other files are not listed."""
    found = []
    if os.path.isdir(output):
        found += [os.path.join(output, name) for name in os.listdir(output)
                  if RUN_FILES.match(name)
                  and os.path.isfile(os.path.join(output, name))]
    folder = os.path.join(output, CHECKPOINTS)
    if os.path.isdir(folder):
        found += [os.path.join(folder, name) for name in os.listdir(folder)
                  if CHECKPOINT_FILES.match(name)]
    return sorted(found)


def describe(paths):
    """'3 checkpoints, 510 montages, generator.keras' for a list of paths."""
    names = [os.path.basename(path) for path in paths]
    parts = []
    for label, test in (("checkpoint", lambda n: n.startswith("ckpt-")),
                        ("montage", lambda n: n.endswith(".png")
                         and "epoch_" in n)):
        count = sum(map(test, names))
        if count:
            parts.append(f"{count} {label}{'s' if count > 1 else ''}")
    parts += sorted(n for n in names if not n.startswith(("ckpt-", ".tmp-"))
                    and not (n.endswith(".png") and "epoch_" in n))
    return ", ".join(parts)


def check_fresh(output, overwrite=False):
    """Before a new run (no --resume): refuse a folder that holds another
    run's files, or with `overwrite` delete exactly those files."""
    found = run_files(output)
    if not found:
        return
    if overwrite:
        clear(found, output)
        return
    has_checkpoint = any(os.path.basename(p).startswith("ckpt-")
                         for p in found)
    ways = (["--resume to continue that run"] if has_checkpoint else []) + [
        "another --output", "--overwrite to delete that run's files first "
        "(other files in the folder are kept)"]
    raise UserError(f"--output {output} already holds another run's files "
                    f"({describe(found)}); use " + ", or ".join(ways))


def clear(paths, output):
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise UserError(f"--overwrite: could not delete {path} "
                            f"({e.strerror}); delete it by hand") from None
    folder = os.path.join(output, CHECKPOINTS)
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def trim_metrics(output, last_epoch):
    """On resume, drop metrics rows of epochs after the checkpoint's (left
    by a run that went on past it before it was killed, or when resuming
    from an older checkpoint): the resumed run measures them again."""
    path = os.path.join(output, METRICS)
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:]
                       if not (row and row[0].isdigit()
                               and int(row[0]) > last_epoch)]
    if kept != rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(kept)
        atomic_write(path, lambda f: f.write(text.getvalue().encode()))
