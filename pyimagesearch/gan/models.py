"""The one place that builds a run's models from its configuration: the
tutorial's generator and discriminator for the run's image size and
channels, and the trainer that owns the GAN and the tips.  The training
script, bench.py, and loading a generator from a checkpoint all build
through here, so a model-side option is added here, in the RunConfig and
as a flag, and nowhere else."""
import functools

from ..dcgan import DCGAN, ClassEmbedding, ClassOneHot
from .policy import parse_policy
from .precision import float32_output
from .step import TapeTrainer
from .trainer import GANTrainer

# the generator's feature maps before its two upsamplings (the tutorial's)
GENERATOR_DEPTH = 64


# --arch radford: the channels at 4x4 are 8x this (DCGAN.build_radford_*)
RADFORD_WIDTH = 32


def build_generator(config):
    """The tutorial's: two upsamplings from size/4 to size, 7x7x64 -> 28x28
    for the MNISTs, 8x8x64 -> 32x32 for CIFAR-10 and folders.  --arch
    radford: the DCGAN paper's, doubling from 4x4x256.  --conditional:
    either with the class as a second input, embedded (projection) or
    one-hot."""
    if config.conditional and config.arch == "radford":
        return DCGAN.build_conditional_radford_generator(
            config.image_size, len(config.class_names), config.channels,
            width=RADFORD_WIDTH, classNames=config.class_names,
            oneHot=config.conditional == "onehot")
    if config.conditional:
        return DCGAN.build_conditional_generator(
            config.image_size // 4, GENERATOR_DEPTH,
            len(config.class_names), channels=config.channels,
            classNames=config.class_names,
            oneHot=config.conditional == "onehot")
    if config.arch == "radford":
        return DCGAN.build_radford_generator(config.image_size,
                                             config.channels,
                                             width=RADFORD_WIDTH)
    return DCGAN.build_generator(config.image_size // 4, GENERATOR_DEPTH,
                                 channels=config.channels)


def build_discriminator(config):
    if config.conditional and config.arch == "radford":
        return DCGAN.build_conditional_radford_discriminator(
            config.image_size, config.channels, len(config.class_names),
            dropout=config.disc_dropout, width=RADFORD_WIDTH,
            batchSize=config.batch_size,
            oneHot=config.conditional == "onehot")
    if config.conditional:
        return DCGAN.build_conditional_discriminator(
            config.image_size, config.image_size, config.channels,
            len(config.class_names), dropout=config.disc_dropout,
            oneHot=config.conditional == "onehot")
    if config.arch == "radford":
        return DCGAN.build_radford_discriminator(
            config.image_size, config.channels, dropout=config.disc_dropout,
            width=RADFORD_WIDTH, batchSize=config.batch_size)
    return DCGAN.build_discriminator(config.image_size, config.image_size,
                                     config.channels,
                                     dropout=config.disc_dropout)


def build_trainer(config, log=None, strategy=None):
    """The run's GANTrainer (generator, discriminator, GAN, optimizers,
    tips), logging the tutorial's [INFO] lines when given `log`.  With
    config.mixed_precision, Keras' mixed policy must be on already
    (precision.enable_mixed_precision): the layers take it when built.
    `strategy` (--distribute): a tf.distribute strategy; everything is
    then built in its scope, for a DistributedTrainer."""
    if strategy is None and config.step == "keras":
        return _build_trainer(config, log, GANTrainer)
    if strategy is None:
        return _build_trainer(config, log, functools.partial(
            TapeTrainer, loss=config.loss))
    from .distributed import DistributedTrainer
    with strategy.scope():
        return _build_trainer(config, log, functools.partial(
            DistributedTrainer, strategy, loss=config.loss))


def _build_trainer(config, log, trainer_class):
    log = log or (lambda line: None)

    # build the generator
    log("[INFO] building generator...")
    gen = build_generator(config)

    # build the discriminator
    log("[INFO] building discriminator...")
    disc = build_discriminator(config)
    if config.mixed_precision:
        float32_output(gen)
        float32_output(disc)

    # build the adversarial model: D is frozen inside the GAN step only
    log("[INFO] building GAN...")
    tips = config.tips
    del tips["disc_dropout"]        # built into the discriminator above
    augment = parse_policy(config.augment) if config.augment else None
    return trainer_class(gen, disc, config.epochs,
                         shared_optimizer=config.shared_optimizer,
                         augment=augment,
                         mixed_batches=config.arch != "radford",
                         num_classes=len(config.class_names)
                         if config.conditional else None, **tips)


def class_names(generator):
    """The names of the classes a conditional generator (--conditional)
    draws, in class order; None for an unconditional one."""
    for layer in generator.layers:
        if isinstance(layer, (ClassEmbedding, ClassOneHot)):
            return layer.classNames or [str(number) for number
                                        in range(layer.input_dim)]
    return None
