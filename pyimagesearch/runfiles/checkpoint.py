"""One self-describing checkpoint file holding everything a run needs to
continue: weights, optimizer slots, benchmark noise, counters, RNG state,
settings and loss history.  Written atomically; the newest few are kept.
Every variable is stored under a stable name of its own (model_variables),
so a checkpoint is read back by name, not by Keras' per-process paths."""
import glob
import json
import os
import random
import re
import zipfile

import numpy as np

from ..bounded import MAX_META_BYTES, checked_npz
from ..errors import UserError
from ..files import atomic_write, remove_quietly
from ..gan.memory import plannable_bytes
from ..gan.noise import LATENT_DIM

FORMAT = "dcgan-fashion-mnist-checkpoint"
# 2: state saved by stable variable names; 1: by list position (read and
# converted, as it came from the same models in the same order)
VERSION = 2
SUBDIR = "checkpoints"
NAME = "ckpt-{:08d}.npz"
NAME_RE = re.compile(r"^ckpt-(\d{8})\.npz$")
STATE_PREFIX = "state/"
V1_KEYS = ("generator", "discriminator", "disc_optimizer", "gan_optimizer")
# a run's checkpoint holds about 100 arrays, the largest models' a few
# hundred
MAX_CHECKPOINT_MEMBERS = 10000


# -- stable names for every variable a run has --------------------------

def model_variables(model, label):
    """{stable name: variable} for every variable of a model's layers
    (weights, BN statistics, dropout seed state), named by layer position:
    "generator/01_Dense/kernel".  Keras' own paths carry per-process
    counters (dense_3) and cannot name a variable across runs."""
    return {f"{label}/{index:02d}_{type(layer).__name__}/{variable.name}":
            variable
            for index, layer in enumerate(model.layers)
            for variable in layer.variables}


def optimizer_variables(optimizer, label, named_model_variables):
    """{stable name: variable} for an optimizer's variables, each slot named
    after the model variable it belongs to:
    "disc_optimizer/discriminator/00_Conv2D/kernel/momentum".  Keras names
    a slot '<optimizer>/<variable path with _ for />_<slot>'."""
    by_path = {variable.path.replace("/", "_"): name
               for name, variable in named_model_variables.items()}
    named = {}
    for variable in optimizer.variables:
        local = variable.path.split("/", 1)[-1]
        reference, _, slot = local.rpartition("_")
        name = (f"{by_path[reference]}/{slot}" if reference in by_path
                else local)
        named[f"{label}/{name}"] = variable
    return named


def trainer_variables(trainer):
    """{stable name: variable} of both models, the averaged generator and
    the optimizer(s): everything a checkpoint must hold to continue
    exactly."""
    trainer.build_optimizers()
    named = model_variables(trainer.generator, "generator")
    named.update(model_variables(trainer.discriminator, "discriminator"))
    if trainer.decoder is not None:     # --self-supervised
        named.update(model_variables(trainer.decoder, "decoder"))
    models = dict(named)
    if trainer.generator_ema is not None:
        named.update(model_variables(trainer.generator_ema, "generator_ema"))
    if trainer.augment is not None:
        # where --augment's random transforms are in their stream
        named["augment/seed_state"] = trainer.augment.seed_generator.state
        if trainer.augment.probability is not None:     # --ada
            named["augment/probability"] = trainer.augment.probability
            named["augment/real_signs"] = trainer.augment.real_signs
    if trainer.shared_optimizer:
        named.update(optimizer_variables(trainer.gan.optimizer, "optimizer",
                                         models))
    else:
        named.update(optimizer_variables(trainer.disc_model.optimizer,
                                         "disc_optimizer", models))
        named.update(optimizer_variables(trainer.gan.optimizer,
                                         "gan_optimizer", models))
    return named


def get_state(trainer):
    """All weights and optimizer slots as {stable name: numpy array}."""
    return {name: variable.numpy()
            for name, variable in trainer_variables(trainer).items()}


def set_state(trainer, state):
    """Inverse of get_state; names and shapes must match (checked first
    with fit_state)."""
    for name, variable in trainer_variables(trainer).items():
        variable.assign(state[name])


# -- checkpoint files -----------------------------------------------------

def checkpoint_dir(output):
    return os.path.join(output, SUBDIR)


def list_checkpoints(output):
    """Checkpoint paths in `output`, oldest first (by global step)."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(checkpoint_dir(output)),
                                       "ckpt-*.npz")):
        match = NAME_RE.match(os.path.basename(path))
        # only regular files: a FIFO named like one would block a reader
        if match and os.path.isfile(path):
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(output):
    paths = list_checkpoints(output)
    return paths[-1] if paths else None


def _keras_seed_generator():
    # what keras.random draws from when given no seed (dropout-like ops in
    # user code); layers' own seed generators travel with their weights
    from keras.src.random.seed_generator import global_seed_generator
    return global_seed_generator()


def get_rng_state():
    """Keras', NumPy's and Python's global RNG state as arrays plus
    JSON-able bits.  Keras' generator is read first: creating it draws
    from Python's generator."""
    keras_state = np.asarray(_keras_seed_generator().state.numpy())
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    arrays = {"rng/numpy_keys": np.asarray(keys, dtype=np.uint32),
              "rng/python_internal": np.asarray(py_internal, dtype=np.int64),
              "rng/keras": keras_state}
    meta = {"numpy": [name, int(pos), int(has_gauss), float(cached)],
            "python": [py_version, py_gauss]}
    return arrays, meta


def set_rng_state(arrays, meta):
    if "rng/keras" in arrays:
        _keras_seed_generator().state.assign(arrays["rng/keras"])
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, arrays["rng/numpy_keys"], pos, has_gauss,
                         cached))
    py_version, py_gauss = meta["python"]
    random.setstate((py_version,
                     tuple(int(x) for x in arrays["rng/python_internal"]),
                     py_gauss))


def save_checkpoint(output, global_step, state, meta, arrays, keep=3):
    """Write checkpoint number `global_step` ({name: array} state) and prune
    to the newest `keep` (keep=0 keeps all), never the one just written.
    Returns its path."""
    folder = checkpoint_dir(output)
    path = os.path.join(folder, NAME.format(global_step))
    payload = dict(arrays)
    payload.update({STATE_PREFIX + name: value
                    for name, value in state.items()})
    meta = dict(meta, format=FORMAT, version=VERSION,
                global_step=global_step)
    payload["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    try:
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **payload))
    except OSError as e:
        raise UserError(f"could not write checkpoint {path} ({e.strerror}); "
                        "free space or make the output folder writable, then "
                        "resume with --resume from the last checkpoint") from None
    # leftovers of a write killed mid-way, and checkpoints beyond `keep`
    for tmp in glob.glob(os.path.join(glob.escape(folder), ".tmp-*")):
        remove_quietly(tmp)
    if keep:
        others = [p for p in list_checkpoints(output) if p != path]
        for old in others[:max(0, len(others) - (keep - 1))]:
            remove_quietly(old)
    return path


def open_checkpoint(path):
    """np.load's view of a checkpoint, its members' declared sizes checked
    before any is read: at most MAX_CHECKPOINT_MEMBERS of them, the meta
    at most MAX_META_BYTES, all at most the share of the memory this
    process may use that a run plans with (a file that claims more is
    damaged or built to inflate)."""
    limit = plannable_bytes()
    return checked_npz(path, {"meta": MAX_META_BYTES}, limit, limit,
                       "checkpoint", MAX_CHECKPOINT_MEMBERS)


def load_checkpoint(path):
    """(state, meta, arrays) from a checkpoint file, or a UserError that
    names the file and what to do.  A version-1 file's state comes back as
    {"generator/0000": array, ...}; fit_state converts it."""
    others = [p for p in list_checkpoints(os.path.dirname(os.path.dirname(path)))
              if p != path]
    hint = (f"delete it to resume from {others[-1]}" if others
            else "delete it and train again without --resume")
    try:
        with open_checkpoint(path) as bundle:
            contents = {key: bundle[key] for key in bundle.files}
        meta = check_meta(json.loads(
            contents.pop("meta").tobytes().decode()))
        if meta["version"] == 1:
            state = {f"{key}/{index:04d}": contents.pop(f"{key}/{index:04d}")
                     for key in V1_KEYS
                     for index in range(meta["counts"][key])}
        else:
            state = {key[len(STATE_PREFIX):]: contents.pop(key)
                     for key in list(contents)
                     if key.startswith(STATE_PREFIX)}
    except (OSError, EOFError, ValueError, KeyError, TypeError,
            zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise UserError(f"checkpoint {path} is corrupt or truncated "
                        f"({type(e).__name__}: {e}); {hint}") from None
    return state, meta, contents


# what a checkpoint's meta holds, each of its type (checked as a whole:
# valid JSON of another shape is as corrupt as a truncated file)
META_TYPES = {"format": str, "version": int, "epoch": int, "batch": int,
              "settings": dict, "rng": dict, "keras_version": str,
              "run_id": str}
RNG_TYPES = {"numpy": list, "python": list}


def check_meta(meta):
    """`meta` if it is a whole checkpoint meta of this project, else a
    ValueError saying what is wrong with it."""
    if not isinstance(meta, dict):
        raise ValueError(f"its meta is a {type(meta).__name__}, not a dict")
    if meta.get("format") != FORMAT:
        raise ValueError("not a checkpoint of this project")
    if meta.get("version") not in (1, VERSION):
        raise ValueError(f"format version {meta.get('version')}, "
                         f"this code reads 1 and {VERSION}")
    rng = meta.get("rng") if isinstance(meta.get("rng"), dict) else {}
    for fields, where in ((META_TYPES, meta), (RNG_TYPES, rng)):
        for key, kind in fields.items():
            if (key in where and not isinstance(where[key], kind)) or (
                    kind is int and isinstance(where.get(key), bool)):
                raise ValueError(f"its {key} is {where[key]!r}, not of "
                                 f"type {kind.__name__}")
    if meta.get("epoch", 0) < 0 or meta.get("batch", 0) < 0:
        raise ValueError("its position is negative")
    return meta


def check_arrays(meta, arrays, latent_dim=LATENT_DIM):
    """A ValueError unless a version-2 checkpoint's arrays and random state
    are what a run writes, so that a damaged one is refused before any
    data loads, not with a traceback once the models exist."""
    numpy_state, python_state = meta["rng"].get("numpy"), meta["rng"].get(
        "python")
    if not (isinstance(numpy_state, list) and len(numpy_state) == 4
            and isinstance(python_state, list) and len(python_state) == 2):
        raise ValueError("its random state is not what a run writes")
    expected = {"benchmark_noise": (None, latent_dim), "history": (None, 4),
                "rng/numpy_keys": (624,), "rng/python_internal": (625,)}
    for key, shape in expected.items():
        array = arrays.get(key)
        if array is None or array.ndim != len(shape) or any(
                want is not None and have != want
                for have, want in zip(array.shape, shape)):
            raise ValueError(f"its {key} is not an array of shape {shape}")
    try:        # on generators of their own: the run's are left alone
        name, pos, has_gauss, cached = numpy_state
        np.random.RandomState().set_state(
            (name, arrays["rng/numpy_keys"], pos, has_gauss, cached))
        version, gauss = python_state
        random.Random().setstate(
            (version, tuple(int(x) for x in arrays["rng/python_internal"]),
             gauss))
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"its random state cannot be restored ({e})")


def load_meta(path):
    """A checkpoint's settings and position only, without its arrays."""
    try:
        with open_checkpoint(path) as bundle:
            return check_meta(json.loads(bundle["meta"].tobytes().decode()))
    except (OSError, EOFError, ValueError, KeyError, TypeError,
            zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise UserError(f"checkpoint {path} is corrupt or truncated "
                        f"({type(e).__name__}: {e})") from None


def minor_version(version):
    return ".".join(str(version).split(".")[:2])


def check_keras_version(path, meta, keras_version):
    """Layer and optimizer state is only read back by the Keras minor
    release that wrote it: refuse another one, in one line."""
    saved = meta.get("keras_version")
    if saved is None:
        raise UserError(f"checkpoint {path} does not say which Keras wrote "
                        "it; train afresh in another --output")
    if minor_version(saved) != minor_version(keras_version):
        raise UserError(f"checkpoint {path} was written with Keras {saved} "
                        f"and this is Keras {keras_version}; resume it with "
                        f"that Keras (pip install \"keras=="
                        f"{minor_version(saved)}.*\"), or train afresh in "
                        "another --output")


def _upgrade_v1(saved, fresh):
    """Version-1 lists held each model's and optimizer's variables in the
    order this code builds them: give them their names."""
    upgraded = {}
    for key in V1_KEYS:
        names = [name for name in fresh if name.split("/")[0] == key]
        values = [saved[name] for name in sorted(saved)
                  if name.split("/")[0] == key]
        if len(names) != len(values):
            return saved        # fit_state names the difference
        upgraded.update(zip(names, values))
    return upgraded


def fit_state(path, meta, saved, shapes):
    """The checkpoint's state, checked name by name and shape by shape
    against {name: shape} of the models built here; a UserError names the
    first difference."""
    if meta.get("version") == 1:
        saved = _upgrade_v1(saved, shapes)
    for name, shape in shapes.items():
        if name not in saved:
            problem = f"has no {name}"
        elif np.shape(saved[name]) != tuple(shape):
            problem = (f"holds {name} with shape {np.shape(saved[name])}, "
                       f"but this code builds {tuple(shape)}")
        else:
            continue
        break
    else:
        extra = [name for name in saved if name not in shapes]
        if not extra:
            return saved
        problem = f"holds {extra[0]}, which this code does not build"
    raise UserError(f"checkpoint {path} {problem}: it comes from a different "
                    "architecture or settings; train afresh in another "
                    "--output")
