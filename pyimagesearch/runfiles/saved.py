"""A trained generator on disk: saved as a .keras file at the end of a run,
and loaded back from one, or from any training checkpoint (the averaged
generator too, for an --ema run)."""
import os

from ..bounded import MAX_META_BYTES, open_checked, open_zip, zip_declared
from ..errors import UserError
from ..gan.memory import plannable_bytes
from .checkpoint import (checkpoint_dir, fit_state,
                         latest_checkpoint, load_checkpoint, load_meta,
                         model_variables)
from .config import RunConfig
from ..files import remove_quietly
from ..gan.models import build_generator, class_names


# a .keras file holds config.json, metadata.json and model.weights.h5
MAX_MODEL_MEMBERS = 64


def save_generator(generator, path):
    """Save the generator alone as a .keras file, atomically."""
    tmp = path + ".tmp.keras"      # Keras insists on the extension
    try:
        generator.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        remove_quietly(tmp)
        raise UserError(f"could not save {path} ({e}); the last checkpoint "
                        "still holds the generator") from None
    except BaseException:
        remove_quietly(tmp)
        raise


def load_generator(path, ema=False):
    """A generator from a .keras file or from a training checkpoint (with
    ema=True, the checkpoint's moving average of the generator)."""
    if not os.path.isfile(path):
        raise UserError(f"{path} does not exist; pass a generator.keras file "
                        "or a checkpoint from a training run's --output")
    if path.endswith(".npz"):
        return generator_from_checkpoint(path, ema)
    if ema:
        raise UserError(f"--ema picks the averaged weights out of a "
                        f"checkpoint; {path} is a saved model: pass the "
                        "run's generator_ema.keras itself instead")
    try:
        model = load_keras_file(path)
    except UserError:
        raise
    except Exception as e:   # Keras raises many types for a bad file
        raise UserError(f"{path} is not a loadable Keras model "
                        f"({type(e).__name__}: {str(e).splitlines()[0]})") \
            from None
    return check_generator(model, path)


def load_keras_file(path):
    """A .keras model read through one open file, checked by fstat (a
    regular file within the memory limit) and by its zip directory (its
    config at most MAX_META_BYTES, no member claiming more than the
    memory limit inflated) before Keras reads it: a file swapped after
    the command line was checked is still the one checked."""
    from keras.src.saving import saving_lib   # Keras' reader of a file
    limit = plannable_bytes()
    with open_checked(path, limit, "model") as f:
        with open_zip(f, MAX_MODEL_MEMBERS) as archive:
            zip_declared(archive, {"config.json": MAX_META_BYTES,
                                   "metadata.json": MAX_META_BYTES},
                         limit, limit)
        f.seek(0)
        return saving_lib.load_model(f)


def check_generator(model, path):
    """A generator maps a batch of noise vectors (None, D) to a batch of
    images (None, H, W, 1 or 3); a saved discriminator or any other model
    is refused in one line before it is used."""
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError):      # no single input or output
        inputs = outputs = None
    if isinstance(inputs, list) and len(inputs) == 2 and \
            inputs[1] == (None, 1) and class_names(model):
        inputs = inputs[0]          # a conditional generator's noise
    if (isinstance(inputs, tuple) and len(inputs) == 2 and inputs[1]
            and isinstance(outputs, tuple) and len(outputs) == 4
            and all(outputs[1:3]) and outputs[3] in (1, 3)):
        return model
    raise UserError(f"{path} maps {inputs} to {outputs}, not noise vectors "
                    "(None, D) to images (None, H, W, 1 or 3): it is not a "
                    "generator; pass a run's generator.keras, "
                    "generator_ema.keras or checkpoint")


def generator_from_checkpoint(path, ema=False):
    """The run's generator, built from the checkpoint's own configuration
    and given its weights (ema: the averaged weights, with G's BatchNorm
    statistics, as the run's averaged generator uses them)."""
    state, meta, _ = load_checkpoint(path)
    config = RunConfig.from_saved(meta.get("settings", {}))
    if ema and config.ema is None:
        raise UserError(f"{path} is from a run without --ema: it holds "
                        "no averaged generator; leave out --ema")
    generator = build_generator(config)
    named = model_variables(generator, "generator")
    saved = {name: value for name, value in state.items()
             if name.startswith("generator/")}
    if ema:
        saved.update({name: state["generator_ema/" + name.split("/", 1)[1]]
                      for name, variable in named.items()
                      if variable.trainable})
    shapes = {name: tuple(variable.shape) for name, variable in named.items()}
    for name, value in fit_state(path, meta, saved, shapes).items():
        named[name].assign(value)
    return generator


def trained_settings(path, without):
    """The settings of the run a generator comes from: the checkpoint's
    own, or for a .keras file its run's newest checkpoint beside it; {}
    when there is none.  `without`: how to do without them, for the error
    an unreadable checkpoint gives."""
    if path.endswith(".npz"):
        checkpoint = path
    else:
        folder = os.path.dirname(os.path.abspath(path))
        checkpoint = (latest_checkpoint(folder)
                      if os.path.isdir(checkpoint_dir(folder)) else None)
    if checkpoint is None:
        return {}
    try:
        return load_meta(checkpoint).get("settings", {})
    except UserError as e:
        raise UserError(f"{e}; it was read for what {path} was trained on: "
                        f"{without}") from None


def trained_noise(path):
    """The noise a generator was trained on ("uniform" or "normal");
    "uniform" (the tutorial's) when no checkpoint says."""
    return trained_settings(path, "pass --noise uniform or --noise normal "
                            "to do without it").get("noise", "uniform")
