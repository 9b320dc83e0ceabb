"""One self-describing checkpoint file holding everything a run needs to
continue: weights, optimizer slots, benchmark noise, counters, RNG state,
settings and loss history.  Written atomically; the newest few are kept."""
import glob
import json
import os
import random
import re
import tempfile
import zipfile

import numpy as np

from .errors import UserError

FORMAT = "dcgan-fashion-mnist-checkpoint"
VERSION = 1
SUBDIR = "checkpoints"
NAME = "ckpt-{:08d}.npz"
NAME_RE = re.compile(r"^ckpt-(\d{8})\.npz$")
STATE_KEYS = ("generator", "discriminator", "disc_optimizer", "gan_optimizer")


def checkpoint_dir(output):
    return os.path.join(output, SUBDIR)


def list_checkpoints(output):
    """Checkpoint paths in `output`, oldest first (by global step)."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir(output), "ckpt-*.npz")):
        match = NAME_RE.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(output):
    paths = list_checkpoints(output)
    return paths[-1] if paths else None


def get_rng_state():
    """NumPy's and Python's global RNG state as arrays plus JSON-able bits."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    arrays = {"rng/numpy_keys": np.asarray(keys, dtype=np.uint32),
              "rng/python_internal": np.asarray(py_internal, dtype=np.int64)}
    meta = {"numpy": [name, int(pos), int(has_gauss), float(cached)],
            "python": [py_version, py_gauss]}
    return arrays, meta


def set_rng_state(arrays, meta):
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, arrays["rng/numpy_keys"], pos, has_gauss,
                         cached))
    py_version, py_gauss = meta["python"]
    random.setstate((py_version,
                     tuple(int(x) for x in arrays["rng/python_internal"]),
                     py_gauss))


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Call write(file_object) on a temporary file beside `path`, then
    rename it over `path`: a crash leaves the old file or the new, never
    half of one."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would, not 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def save_checkpoint(output, global_step, state, meta, arrays, keep=3):
    """Write checkpoint number `global_step` and prune to the newest `keep`
    (keep=0 keeps all).  Returns its path."""
    folder = checkpoint_dir(output)
    path = os.path.join(folder, NAME.format(global_step))
    payload = dict(arrays)
    for key in STATE_KEYS:
        for index, value in enumerate(state[key]):
            payload[f"{key}/{index:04d}"] = value
    meta = dict(meta, format=FORMAT, version=VERSION,
                global_step=global_step,
                counts={key: len(state[key]) for key in STATE_KEYS})
    payload["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    try:
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **payload))
    except OSError as e:
        raise UserError(f"could not write checkpoint {path} ({e.strerror}); "
                        "free space or make the output folder writable, then "
                        "resume with --resume from the last checkpoint") from None
    # leftovers of a write killed mid-way, and checkpoints beyond `keep`
    for tmp in glob.glob(os.path.join(folder, ".tmp-*")):
        _remove_quietly(tmp)
    if keep:
        for old in list_checkpoints(output)[:-keep]:
            _remove_quietly(old)
    return path


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def load_checkpoint(path):
    """(state, meta, arrays) from a checkpoint file, or a UserError that
    names the file and what to do."""
    others = [p for p in list_checkpoints(os.path.dirname(os.path.dirname(path)))
              if p != path]
    hint = (f"delete it to resume from {others[-1]}" if others
            else "delete it and train again without --resume")
    try:
        with np.load(path, allow_pickle=False) as bundle:
            contents = {key: bundle[key] for key in bundle.files}
        meta = json.loads(contents.pop("meta").tobytes().decode())
        if meta.get("format") != FORMAT:
            raise ValueError("not a checkpoint of this project")
        if meta.get("version") != VERSION:
            raise ValueError(f"format version {meta.get('version')}, "
                             f"this code reads {VERSION}")
        state = {key: [contents.pop(f"{key}/{index:04d}")
                       for index in range(meta["counts"][key])]
                 for key in STATE_KEYS}
    except (OSError, EOFError, ValueError, KeyError, TypeError,
            zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise UserError(f"checkpoint {path} is corrupt or truncated "
                        f"({type(e).__name__}: {e}); {hint}") from None
    return state, meta, contents


def check_architecture(path, fresh_state, saved_state):
    """Refuse a checkpoint whose weights do not fit the models built here."""
    for key in fresh_state:
        fresh = [w.shape for w in fresh_state[key]]
        saved = [w.shape for w in saved_state[key]]
        if fresh != saved:
            raise UserError(f"checkpoint {path} holds a {key} with weight "
                            f"shapes {saved}, but this code builds {fresh}: "
                            "it comes from a different architecture; train "
                            "afresh in another --output")


def save_generator(generator, path):
    """Save the generator alone as a .keras file, atomically."""
    tmp = path + ".tmp.keras"      # Keras insists on the extension
    try:
        generator.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"could not save {path} ({e}); the last checkpoint "
                        "still holds the generator") from None
