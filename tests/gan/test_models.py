"""The one place that builds a run's models: from a RunConfig, for the
training script, bench.py and a checkpoint's generator alike."""
import dataclasses

import numpy as np

from pyimagesearch.gan.models import (build_discriminator, build_generator,
                                      build_trainer)
from pyimagesearch.runfiles.config import RunConfig


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


def layer_shapes(model, kind):
    return [tuple(layer.output.shape[1:]) for layer in model.layers
            if type(layer).__name__ == kind]


def test_radford_models_double_from_4x4():
    config = RunConfig(image_size=64, channels=3, arch="radford",
                       disc_dropout=0.2)
    gen, disc = build_generator(config), build_discriminator(config)
    # G: 4x4x256, then the size doubles and the channels halve
    assert gen.layers[1].output.shape[1:] == (4, 4, 256)
    assert layer_shapes(gen, "Conv2DTranspose") == [
        (8, 8, 128), (16, 16, 64), (32, 32, 32), (64, 64, 3)]
    assert type(gen.layers[-1]).__name__ == "Activation"
    assert gen.layers[-1].get_config()["activation"] == "tanh"
    # D: the mirror, BatchNorm after every convolution but the first
    assert layer_shapes(disc, "Conv2D") == [
        (32, 32, 32), (16, 16, 64), (8, 8, 128), (4, 4, 256)]
    kinds = [type(layer).__name__ for layer in disc.layers]
    assert kinds.count("BatchStatistics") == 3
    assert kinds[:3] == ["Conv2D", "LeakyReLU", "Dropout"]
    assert disc.layers[-1].get_config()["activation"] == "sigmoid"
    small = RunConfig(image_size=16, channels=1, arch="radford")
    assert build_generator(small).output_shape == (None, 16, 16, 1)
    assert layer_shapes(build_discriminator(small), "Conv2D") == [
        (8, 8, 128), (4, 4, 256)]


def widths(model):
    """Each Dense's units and each convolution's channels, in order."""
    return [layer.output.shape[-1] for layer in model.layers
            if type(layer).__name__ in ("Dense", "Conv2D", "Conv2DTranspose")]


def test_width_scales_every_layer_of_both_models_but_the_ends():
    tutorial = RunConfig(image_size=32, channels=3)
    assert widths(build_generator(tutorial)) == [512, 8 * 8 * 64, 32, 3]
    assert widths(build_discriminator(tutorial)) == [32, 64, 512, 1]
    half = dataclasses.replace(tutorial, width=0.5)
    assert widths(build_generator(half)) == [256, 8 * 8 * 32, 16, 3]
    assert widths(build_discriminator(half)) == [16, 32, 256, 1]
    # the reshaped volume follows G's narrower Dense
    assert layer_shapes(build_generator(half), "Reshape") == [(8, 8, 32)]
    # conditional and spectrally normalised models too
    onehot = dataclasses.replace(half, conditional="onehot",
                                 class_names=["a", "b"])
    assert widths(build_generator(onehot)) == [256, 8 * 8 * 32, 16, 3]
    assert widths(build_discriminator(onehot)) == [16, 32, 256, 1]
    normed = dataclasses.replace(half, step="tape", loss="hinge",
                                 spectral_norm=True)
    assert [layer.layer.filters for layer in build_discriminator(normed).layers
            if hasattr(layer, "layer") and hasattr(layer.layer, "filters")] \
        == [16, 32]
    # the DCGAN paper's models: 4x4x(8 * 32 * width)
    radford = RunConfig(image_size=32, channels=3, arch="radford", width=2.0)
    assert build_generator(radford).layers[1].output.shape[1:] == (4, 4, 512)
    assert layer_shapes(build_discriminator(radford), "Conv2D") == [
        (16, 16, 128), (8, 8, 256), (4, 4, 512)]


def test_augment_wraps_what_d_sees_in_both_steps():
    config = RunConfig(image_size=16, channels=3, augment="cutout,color")
    trainer = build_trainer(config)
    assert trainer.augment.policy == ("color", "cutout")
    # D's own step and the GAN both pass images through the augmentation
    assert trainer.disc_model is not trainer.discriminator
    assert trainer.augment in trainer.disc_model.layers
    assert trainer.augment in trainer.gan.layers
    # ... whose trainable weights are D's and G's alone
    assert {v.path for v in trainer.disc_model.trainable_variables} == \
        {v.path for v in trainer.discriminator.trainable_variables}
    plain = build_trainer(RunConfig(image_size=16, channels=3))
    assert plain.augment is None and plain.disc_model is plain.discriminator


def test_radford_d_normalises_real_and_fake_halves_apart():
    from pyimagesearch.gan.layers import BatchStatistics
    layer = BatchStatistics(group=4)
    rng = np.random.default_rng(0)
    images = np.concatenate([rng.random((4, 5, 5, 3)),
                             3 + 2 * rng.random((4, 5, 5, 3))]).astype(
        "float32")
    expected = np.concatenate([
        (half - half.mean((0, 1, 2))) / np.sqrt(half.var((0, 1, 2)) + 1e-3)
        for half in (images[:4], images[4:])])
    np.testing.assert_allclose(layer(images, training=True), expected,
                               atol=1e-5)
    moving = layer.moving_mean.numpy().copy()
    assert (moving > 0).all()                   # trained: it moves
    # frozen (G's step): still each half by its own numbers, nothing moves
    layer.trainable = False
    np.testing.assert_allclose(layer(images, training=True), expected,
                               atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), moving)
    # inference: the moving statistics, as plain BatchNorm
    assert not np.allclose(layer(images, training=False), expected,
                           atol=1e-2)
    assert BatchStatistics.from_config(layer.get_config()).group == 4


def test_radford_d_step_keeps_the_halves_and_trains_fakes_as_g_makes_them(
        monkeypatch):
    seen = {}
    for arch in ("tutorial", "radford"):
        trainer = build_trainer(RunConfig(image_size=16, channels=1,
                                          batch_size=8, arch=arch))
        monkeypatch.setattr(
            trainer.disc_model, "train_on_batch",
            lambda images, labels, arch=arch: seen.setdefault(
                arch, (images, labels)) and 0.0)
        trainer.discriminator_step(np.zeros((8, 16, 16, 1), "float32"),
                                   None, trainer.draw(8))
    images, labels = seen["radford"]
    assert list(labels) == [1] * 8 + [0] * 8
    assert list(seen["tutorial"][1]) != [1] * 8 + [0] * 8   # shuffled
    # the fakes come from G in training mode: its batch statistics
    assert trainer.mixed_batches is False
    noise = trainer.sample_noise(8)
    training = trainer._generate_training(noise).numpy()
    inference = trainer.generate(noise)
    assert not np.allclose(training, inference, atol=1e-3)
