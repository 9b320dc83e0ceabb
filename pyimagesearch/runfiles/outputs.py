"""The output folder of a run: the names of the files a run writes there,
and the rules that keep runs apart: a new run never writes over another
run's files, and two runs never use one folder at the same time."""
import csv
import fcntl
import io
import os
import re

from .checkpoint import checkpoint_dir
from ..data.folders import Exclusion
from ..bounded import read_csv
from ..errors import UserError
from ..files import atomic_write

GENERATOR = "generator.keras"
GENERATOR_EMA = "generator_ema.keras"   # with --ema
# the best so far by the quality measure, with --metrics-every
GENERATOR_BEST = "generator_best.keras"
GENERATOR_EMA_BEST = "generator_ema_best.keras"
METRICS = "metrics.csv"
EMA_METRICS = "ema_metrics.csv"
EMA_PREFIX = "ema_"                     # the averaged generator's montages
TENSORBOARD = "tensorboard"             # with --tensorboard
LOSS_PLOT = "losses.png"
ANIMATION = "training.gif"
LOCK = ".dcgan-run.lock"
EPOCH_MONTAGE = re.compile(r"^epoch_\d{4,}_output\.png$")
MONTAGE = re.compile(r"^(?:ema_)?epoch_\d{4,}_(?:output|step_\d{5,})\.png$")
CHECKPOINT = re.compile(r"^ckpt-\d{8,}\.npz$")
EVENTS = re.compile(r"^events\.out\.tfevents\..+$")
# the run's files at the top of --output: montages and the named files
RUN_FILE = re.compile("^(?:" + "|".join(
    [MONTAGE.pattern[1:-1]] + [re.escape(name) for name in
                               (GENERATOR, GENERATOR_EMA, GENERATOR_BEST,
                                GENERATOR_EMA_BEST, METRICS, EMA_METRICS,
                                LOSS_PLOT, ANIMATION)])
    + ")$")
# half-written files a killed run can leave behind (atomic writes)
LEFTOVER = re.compile(r"^\.tmp-.*|.*\.tmp\.keras$")


def run_exclusion(output):
    """What the data loaders leave out of a folder for a run writing to
    `output`: the folder, and the files a run writes."""
    return Exclusion(output, RUN_FILE)


def _entries(folder, pattern):
    """Names in `folder` matching `pattern`: files, and symbolic links
    (even dangling ones), which a run would otherwise write through."""
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if pattern.match(name)
                  and (os.path.islink(os.path.join(folder, name))
                       or os.path.isfile(os.path.join(folder, name))))


def epoch_montages(output):
    """The end-of-epoch montages, in epoch order: the animation's frames."""
    return _entries(output, EPOCH_MONTAGE)


def run_files(output):
    """This project's files in `output`, checkpoints last; files of the
    user's own are never listed."""
    return (_entries(output, RUN_FILE)
            + _entries(os.path.join(output, TENSORBOARD), EVENTS)
            + _entries(checkpoint_dir(output), CHECKPOINT))


def leftovers(output):
    return (_entries(output, LEFTOVER)
            + _entries(checkpoint_dir(output), LEFTOVER))


def describe(paths):
    """'3 checkpoints, 510 montages, generator.keras' for a list of paths."""
    names = [os.path.basename(path) for path in paths]
    parts = []
    for label, pattern in (("checkpoint", CHECKPOINT), ("montage", MONTAGE),
                           ("TensorBoard event file", EVENTS)):
        count = sum(bool(pattern.match(name)) for name in names)
        if count:
            parts.append(f"{count} {label}{'s' if count > 1 else ''}")
    parts += sorted(name for name in names
                    if not (CHECKPOINT.match(name) or MONTAGE.match(name)
                            or EVENTS.match(name)))
    return ", ".join(parts)


def check_fresh(output):
    """Before a new run (no --resume): refuse a folder that holds another
    run's files, in one line that lists them and the ways out."""
    found = run_files(output)
    if not found:
        return
    has_checkpoint = any(CHECKPOINT.match(os.path.basename(p)) for p in found)
    ways = (["--resume to continue that run"] if has_checkpoint else []) + [
        "another --output", "--overwrite to delete that run's files first "
        "(other files in the folder are kept)"]
    raise UserError(f"--output {output} already holds another run's files "
                    f"({describe(found)}); use " + ", or ".join(ways))


def clear_run(output):
    """--overwrite, once every check has passed: delete the previous run's
    files (checkpoints last, so a failure leaves it resumable) and the
    leftovers of killed writes; nothing else."""
    for path in (leftovers(output) + run_files(output)):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise UserError(f"--overwrite: could not delete {path} "
                            f"({e.strerror}); delete it by hand") from None
    for folder in (os.path.join(output, TENSORBOARD), checkpoint_dir(output)):
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def lock(output):
    """Hold OUTPUT/.dcgan-run.lock for the life of this process, or say in
    one line that another run is using the folder.  The operating system
    drops the lock when the process ends, however it ends."""
    path = os.path.join(output, LOCK)
    try:
        handle = open(path, "a+")
    except OSError as e:
        raise UserError(f"--output {output} cannot be written "
                        f"({e.strerror}); pick a writable folder") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"--output {output} is in use by another training "
                        f"run ({holder}); wait for it to end, or use another "
                        "--output") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def trim_metrics(output, last_epoch):
    """On resume, drop metrics rows of epochs after the checkpoint's (left
    by a run that went on past it before it was killed, or when resuming
    from an older checkpoint): the resumed run measures them again."""
    for name in (METRICS, EMA_METRICS):
        path = os.path.join(output, name)
        if os.path.isfile(path):
            _trim_csv(path, last_epoch)


def _trim_csv(path, last_epoch):
    try:
        rows = read_csv(path)
    except csv.Error as e:
        raise UserError(f"{path} is not a CSV file ({e}): move it away, "
                        "then resume") from None
    kept = rows[:1] + [row for row in rows[1:]
                       if not (row and row[0].isdigit()
                               and int(row[0]) > last_epoch)]
    if kept != rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(kept)
        atomic_write(path, lambda f: f.write(text.getvalue().encode()))
