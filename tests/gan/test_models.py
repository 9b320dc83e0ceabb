"""The one place that builds a run's models: from a RunConfig, for the
training script, bench.py and a checkpoint's generator alike."""
import dataclasses

import numpy as np

from pyimagesearch.gan.models import (build_discriminator, build_generator,
                                      build_trainer)
from pyimagesearch.run.config import RunConfig


def test_models_follow_the_configuration():
    config = RunConfig(image_size=32, channels=3, disc_dropout=0.25)
    gen, disc = build_generator(config), build_discriminator(config)
    assert gen.output_shape == (None, 32, 32, 3)
    assert disc.input_shape == (None, 32, 32, 3)
    assert [layer.rate for layer in disc.layers
            if type(layer).__name__ == "Dropout"] == [0.25] * 3
    tutorial = RunConfig(image_size=28, channels=1)
    assert build_generator(tutorial).count_params() == 1_727_233
    assert build_discriminator(tutorial).count_params() == 1_658_753


def test_the_trainer_takes_every_tip_and_logs_the_tutorials_lines():
    lines = []
    config = RunConfig(image_size=28, channels=1, epochs=10, noise="normal",
                       label_smoothing=0.1, label_noise=0.05, disc_lr=3e-4,
                       gan_lr=1e-4, ema=0.99)
    trainer = build_trainer(config, log=lines.append)
    assert lines == ["[INFO] building generator...",
                     "[INFO] building discriminator...",
                     "[INFO] building GAN..."]
    assert (trainer.noise, trainer.label_smoothing, trainer.label_noise) \
        == ("normal", 0.1, 0.05)
    assert trainer.generator_ema is not None
    disc_lr = trainer.discriminator.optimizer.learning_rate
    gan_lr = trainer.gan.optimizer.learning_rate
    assert np.isclose(float(disc_lr), 3e-4)
    assert np.isclose(float(gan_lr), 1e-4)
    plain = build_trainer(dataclasses.replace(config, ema=None,
                                              shared_optimizer=True,
                                              gan_lr=3e-4))
    assert plain.generator_ema is None
    assert plain.gan.optimizer is plain.discriminator.optimizer
