"""One description per architecture (--arch): its builders, the image
sizes it allows, how its discriminator's batch is laid out, and how its
BatchNorm behaves under --distribute.  Adding `--arch X` means its
builders (pyimagesearch/dcgan.py) and one entry in ARCHITECTURES: the
flag's choices, the checks, the memory estimate (gan/memory.py, from the
built models) and the trainer all read it.

No TensorFlow here until a model is built: the command line checks an
--arch before TensorFlow starts."""
import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class Architecture:
    """name: the flag's value.  generator / discriminator: config ->
    model (the config's image size, channels, classes, dropout, batch).
    size_error: image size, --width -> why they are not allowed, or None.
    mixed_batches: D trains on real and generated images shuffled together
    (else each half apart, for a D whose BatchNorm normalises each half on
    its own, with the fakes from G in training mode).
    under_distribute: what its BatchNorm layers do across replicas."""
    name: str
    generator: typing.Callable
    discriminator: typing.Callable
    size_error: typing.Callable
    mixed_batches: bool
    under_distribute: str


# the tutorial's models' widths (each times --width): G's feature maps
# before its two upsamplings, the maps nearest the image (G's last hidden
# ones, D's first), and the units of their hidden Dense layer
TUTORIAL_DEPTH = 64
TUTORIAL_FILTERS = 32
TUTORIAL_UNITS = 512
# the DCGAN paper's models: the channels at 4x4 are 8x this
RADFORD_WIDTH = 32
# --mbstd: the images each minibatch standard deviation is taken over
# (StyleGAN's 4); the batch is a multiple of it
MBSTD_GROUP = 4


def scaled(channels, width):
    """A layer's channels (or units) times --width, at least 1."""
    return max(1, int(round(channels * width)))


def _classes(config):
    """(number of classes, their names, one-hot?) of a conditional run."""
    return (len(config.class_names), config.class_names,
            config.conditional == "onehot")


def tutorial_generator(config):
    """The tutorial's: two upsamplings from size/4 to size, 7x7x64 -> 28x28
    for the MNISTs, 8x8x64 -> 32x32 for CIFAR-10 and folders;
    --conditional: with the class as a second input."""
    from ..dcgan import DCGAN
    widths = dict(outputDim=scaled(TUTORIAL_UNITS, config.width),
                  filters=scaled(TUTORIAL_FILTERS, config.width))
    depth = scaled(TUTORIAL_DEPTH, config.width)
    if config.conditional:
        count, names, one_hot = _classes(config)
        return DCGAN.build_conditional_generator(
            config.image_size // 4, depth, count, channels=config.channels,
            classNames=names, oneHot=one_hot, **widths)
    return DCGAN.build_generator(config.image_size // 4, depth,
                                 channels=config.channels, **widths)


def tutorial_discriminator(config):
    from ..dcgan import DCGAN
    widths = dict(filters=scaled(TUTORIAL_FILTERS, config.width),
                  units=scaled(TUTORIAL_UNITS, config.width))
    if config.conditional:
        count, _, one_hot = _classes(config)
        return DCGAN.build_conditional_discriminator(
            config.image_size, config.image_size, config.channels, count,
            dropout=config.disc_dropout, oneHot=one_hot, **widths)
    return DCGAN.build_discriminator(config.image_size, config.image_size,
                                     config.channels,
                                     dropout=config.disc_dropout, **widths)


def tutorial_size_error(size, width=1.0):
    return None         # any multiple of 4 in range (config.check_values)


def radford_generator(config):
    """The DCGAN paper's: doubling from 4x4x(8 * RADFORD_WIDTH)."""
    from ..dcgan import DCGAN
    if config.conditional:
        count, names, one_hot = _classes(config)
        return DCGAN.build_conditional_radford_generator(
            config.image_size, count, config.channels,
            width=scaled(RADFORD_WIDTH, config.width),
            classNames=names, oneHot=one_hot)
    return DCGAN.build_radford_generator(
        config.image_size, config.channels,
        width=scaled(RADFORD_WIDTH, config.width))


def radford_discriminator(config):
    from ..dcgan import DCGAN
    if config.conditional:
        count, _, one_hot = _classes(config)
        return DCGAN.build_conditional_radford_discriminator(
            config.image_size, config.channels, count,
            dropout=config.disc_dropout,
            width=scaled(RADFORD_WIDTH, config.width),
            batchSize=config.batch_size, oneHot=one_hot)
    return DCGAN.build_radford_discriminator(
        config.image_size, config.channels, dropout=config.disc_dropout,
        width=scaled(RADFORD_WIDTH, config.width),
        batchSize=config.batch_size)


def radford_size_error(size, width=1.0):
    if size < 16 or size & (size - 1):
        return ("--arch radford doubles the size from 4x4, so --image-size "
                "must be a power of two from 16 (16, 32, 64, ...), got "
                f"{size} (without --image-size, the data's own size)")
    # the maps halve from 8 * width at 4x4 to the layer before the image
    if 8 * scaled(RADFORD_WIDTH, width) < size // 8:
        return (f"--arch radford at {size}x{size} halves its channels down "
                f"to none at --width {width:g}: raise --width (or lower "
                "--image-size)")
    return None


ARCHITECTURES = {arch.name: arch for arch in (
    Architecture(
        "tutorial", tutorial_generator, tutorial_discriminator,
        tutorial_size_error, mixed_batches=True,
        under_distribute="G's BatchNorm synchronized across replicas: the "
                         "same statistics as one device"),
    Architecture(
        "radford", radford_generator, radford_discriminator,
        radford_size_error, mixed_batches=False,
        under_distribute="G's BatchNorm synchronized; D's grouped BatchNorm "
                         "normalises each replica's real and generated "
                         "halves on their own: close to one device, not "
                         "equal"),
)}
ARCHS = tuple(ARCHITECTURES)
