"""What a run's models need for its image size and batch, worked out from
the models themselves: built by their architecture (gan/architectures.py)
with shapes only, no weights allocated, so that `--image-size 1024` is
counted in a second and refused in one line, not a process killed for
memory."""
import dataclasses
import os
import random

FLOAT_BYTES = 4
WEIGHT_COPIES = 8
# of the machine's memory a run may plan to use; TensorFlow, the data and
# the montages need the rest
SHARE_OF_MEMORY = 0.8
# Keras' (3.15) list of variables awaiting their values
UNINITIALIZED = "uninitialized_variables"


def model_sizes(config):
    """(parameters, activations per image) of the run's generator and
    discriminator together, read off the models built without their
    weights (an unconditional pair: the class inputs add little; without
    --spectral-norm's vectors and --mbstd's one more map, which add
    little too)."""
    arch, config = _architecture(config)
    models = _built_without_weights(
        lambda: (arch.generator(config), arch.discriminator(config)))
    parameters = sum(model.count_params() for model in models)
    generator, discriminator = map(_activations, models)
    return parameters, generator, discriminator


def decoder_sizes(config):
    """(parameters, activations per real image) of --self-supervised's
    decoder, built as model_sizes builds the pair; (0, 0) without it."""
    if not config.self_supervised:
        return 0, 0
    from tensorflow.keras.layers import Flatten

    from .decoder import build_decoder
    from .graph import input_of
    arch, config = _architecture(config)

    def build():
        features = input_of(arch.discriminator(config).outputs[0], Flatten)
        return build_decoder(features.shape[1:], config.channels)
    decoder = _built_without_weights(build)
    return decoder.count_params(), _activations(decoder)


def _architecture(config):
    """The run's architecture, and its config as the sizes are counted."""
    from .architectures import ARCHITECTURES
    config = dataclasses.replace(config, channels=config.channels or 3,
                                 conditional=None, disc_dropout=0.0)
    return ARCHITECTURES[config.arch], config


def _built_without_weights(build):
    """What `build()` returns, its models' variables never given values;
    the run's random stream and Keras' state are left as they were."""
    import keras
    from keras.src.backend.common import global_state
    state = random.getstate()       # the initializers' seeds: untouched
    # Keras keeps a list of the variables a stateless scope left without
    # values and fills them all when the next one closes: these must never
    # be (a 1024x1024 pair would take 17 GB), so the list is put back
    waiting = list(global_state.get_global_attribute(
        UNINITIALIZED, []) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            return build()
    finally:
        random.setstate(state)
        global_state.set_global_attribute(UNINITIALIZED, waiting)


def _activations(model):
    return sum(_volume(layer.output.shape) for layer in model.layers)


def _volume(shape):
    volume = 1
    for size in shape[1:]:
        volume *= size
    return volume


def training_bytes(config):
    """About what training needs: weights, gradients, Adam's two slots,
    the averaged generator and the copies a checkpoint makes of them (8
    copies of the weights: what a run measured above TensorFlow's own
    memory at 128x128 and 256x256, batch 8, on a CPU), and every layer's
    output kept for the backward pass: G's for its two batches (D's
    fakes, G's step), D's for its three (real, fake, G's step), and
    --self-supervised's decoder's for the real images."""
    parameters, generator, discriminator = model_sizes(config)
    decoder_parameters, decoder = decoder_sizes(config)
    return FLOAT_BYTES * (
        WEIGHT_COPIES * (parameters + decoder_parameters)
        + config.batch_size * (2 * generator + 3 * discriminator + decoder))


def machine_bytes():
    """This machine's physical memory, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def cgroup_limits(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """[(bytes, file)] of the memory limits the cgroups of this process
    set (v2 memory.max, v1 memory.limit_in_bytes), its own and its
    ancestors', as Docker, Kubernetes and CI runners set them: the
    kernel stops a process past any of them, whatever the RAM."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read(65536).splitlines()
    except OSError:
        lines = []
    places = [("", "memory.max"), ("unified", "memory.max"),
              ("memory", "memory.limit_in_bytes")]
    for line in lines:
        hierarchy, _, path = line.partition(":")[2].partition(":")
        if hierarchy == "":
            places += [("" + path, "memory.max"),
                       ("unified" + path, "memory.max")]
        elif "memory" in hierarchy.split(","):
            places.append(("memory" + path, "memory.limit_in_bytes"))
    limits = []
    for folder, name in places:
        parts = [part for part in folder.split("/") if part]
        for depth in range(len(parts) + 1):     # the cgroup and its parents
            path = os.path.join(root, *parts[:depth], name)
            value = read_limit(path)
            if value is not None and (value, path) not in limits:
                limits.append((value, path))
    return limits


def read_limit(path):
    """A cgroup memory limit in bytes; None for none ("max", a v1 file's
    "unlimited" value above the address space) or an unreadable file."""
    try:
        with open(path) as f:
            text = f.read(64).strip()
        value = int(text)
    except (OSError, ValueError):
        return None
    return value if 0 < value < 2 ** 60 else None


def memory_limit():
    """(bytes, what they are) of the least memory this process may use:
    physical RAM or a cgroup's limit; (None, None) where none is known."""
    limits = [(value, f"the memory limit in {path}")
              for value, path in cgroup_limits()]
    physical = machine_bytes()
    if physical:
        limits.append((physical, "this machine's memory"))
    return min(limits) if limits else (None, None)


def plannable_bytes(unknown=2 ** 40):
    """The share of the memory limit a run plans with (SHARE_OF_MEMORY of
    memory_limit()); `unknown` where no limit can be read."""
    limit = memory_limit()[0]
    return int(SHARE_OF_MEMORY * limit) if limit else unknown


def gigabytes(count):
    return f"{count / 2 ** 30:,.1f} GB"
