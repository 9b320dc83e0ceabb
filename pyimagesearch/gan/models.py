"""The one place that builds a run's models from its configuration: its
architecture's generator and discriminator (gan/architectures.py) for the
run's image size and channels, and the trainer that owns the GAN, the
step and the tips.  The training script, bench.py, and loading a
generator from a checkpoint all build through here."""
import functools

from .layers import (ClassEmbedding, ClassOneHot, with_minibatch_stddev,
                     with_spectral_norm)
from .architectures import ARCHITECTURES
from .policy import parse_policy
from .precision import float32_output
from .step import TapeTrainer
from .trainer import GANTrainer


def build_generator(config):
    return ARCHITECTURES[config.arch].generator(config)


def build_discriminator(config):
    discriminator = ARCHITECTURES[config.arch].discriminator(config)
    if config.mbstd:
        discriminator = with_minibatch_stddev(discriminator)
    if config.spectral_norm:
        return with_spectral_norm(discriminator)
    return discriminator


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
            TapeTrainer, loss=config.loss, r1=config.r1, xla=config.xla,
            self_supervised=config.self_supervised))
    from .distributed import DistributedTrainer
    with strategy.scope():
        return _build_trainer(config, log, functools.partial(
            DistributedTrainer, strategy, loss=config.loss, r1=config.r1))


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
                         mixed_batches=ARCHITECTURES[
                             config.arch].mixed_batches,
                         num_classes=len(config.class_names)
                         if config.conditional else None,
                         ema_rampup=config.ema_rampup, ada=config.ada,
                         **tips)


def class_names(generator):
    """The names of the classes a conditional generator (--conditional)
    draws, in class order; None for an unconditional one."""
    for layer in generator.layers:
        if isinstance(layer, (ClassEmbedding, ClassOneHot)):
            return layer.classNames or [str(number) for number
                                        in range(layer.input_dim)]
    return None
