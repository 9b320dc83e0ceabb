"""The adversarial step: D learns in its step, stays frozen in G's step,
through re-traces; the 2020 optimizer settings are reproduced."""
import keras
import numpy as np
import pytest

from pyimagesearch.dcgan import DCGAN
from pyimagesearch.training import (INIT_LR, GANTrainer, frozen,
                                    make_optimizer, sample_noise)


def weights(model):
    return [w.copy() for w in model.get_weights()]


def changed(before, model):
    return any(not np.array_equal(a, b)
               for a, b in zip(before, model.get_weights()))


@pytest.fixture
def trainer():
    keras.utils.set_random_seed(0)
    gen = DCGAN.build_generator(7, 64)
    disc = DCGAN.build_discriminator(28, 28, 1)
    return GANTrainer(gen, disc, epochs=50)


def real_batch(n):
    return np.random.uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


def check_freeze(trainer, batch_size):
    gen, disc = trainer.generator, trainer.discriminator
    d_before, g_before = weights(disc), weights(gen)
    trainer.discriminator_step(real_batch(batch_size))
    assert changed(d_before, disc), "D did not learn in its own step"
    assert not changed(g_before, gen), "G changed in D's step"

    d_before, g_before = weights(disc), weights(gen)
    trainer.generator_step(batch_size)
    assert not changed(d_before, disc), "D changed in the GAN step"
    assert changed(g_before, gen), "G did not learn in the GAN step"
    assert disc.trainable, "D must be left trainable after the GAN step"


def test_freeze_is_correct(trainer):
    check_freeze(trainer, 8)
    check_freeze(trainer, 8)


def test_freeze_survives_retracing(trainer):
    # new batch shapes make Keras 3 re-trace both train functions; each
    # re-trace must happen in the right trainable state
    check_freeze(trainer, 8)
    check_freeze(trainer, 5)
    check_freeze(trainer, 3)


def test_freeze_survives_new_label_dtype(trainer):
    check_freeze(trainer, 4)
    gen, disc = trainer.generator, trainer.discriminator
    images = np.concatenate([real_batch(4), real_batch(4)])
    labels = np.array([1.0] * 4 + [0.0] * 4, dtype="float32")
    d_before = weights(disc)
    disc.train_on_batch(images, labels)          # float labels: re-trace
    assert changed(d_before, disc)
    d_before, g_before = weights(disc), weights(gen)
    with frozen(disc):
        trainer.gan.train_on_batch(sample_noise(4),
                                   np.ones(4, dtype="float32"))
    assert not changed(d_before, disc) and changed(g_before, gen)
    check_freeze(trainer, 4)


def test_keras_still_captures_trainable_at_first_trace():
    """Guards the pinned Keras range: the literal 2020 order (freeze D, then
    train it) freezes D for good on Keras 3.  If a release changes this,
    the reason for `frozen()` changes too and this test says so."""
    disc = DCGAN.build_discriminator(28, 28, 1)
    disc.compile(loss="binary_crossentropy", optimizer=make_optimizer(50))
    disc.trainable = False
    gan_input = keras.Input(shape=(28, 28, 1))
    keras.Model(gan_input, disc(gan_input))
    before = weights(disc)
    disc.train_on_batch(real_batch(4), np.array([1, 0, 1, 0]))
    assert not changed(before, disc)
    disc.trainable = True      # too late: the traced function is reused
    disc.train_on_batch(real_batch(4), np.array([1, 0, 1, 0]))
    assert not changed(before, disc)


def test_optimizers_reproduce_2020_time_decay(trainer):
    for optimizer in (trainer.discriminator.optimizer,
                      trainer.gan.optimizer):
        assert optimizer.beta_1 == 0.5
        schedule = optimizer.learning_rate if callable(
            optimizer.learning_rate) else optimizer._learning_rate
        for t in (0, 1, 546, 27300):
            expected = INIT_LR / (1 + (INIT_LR / 50) * t)
            assert float(schedule(t)) == pytest.approx(expected, rel=1e-6)
    # one optimizer per model: Keras 3 cannot share one
    assert trainer.discriminator.optimizer is not trainer.gan.optimizer


def test_generate_is_inference_mode(trainer):
    trainer.train_step(real_batch(8))
    noise = sample_noise(6)
    expected = trainer.generator(noise, training=False).numpy()
    np.testing.assert_allclose(trainer.generate(noise), expected, atol=1e-6)
    assert not np.allclose(trainer.generator(noise, training=True).numpy(),
                           expected, atol=1e-3)


def test_noise_is_uniform_minus_one_to_one():
    noise = sample_noise(2000)
    assert noise.shape == (2000, 100)
    assert -1 <= noise.min() < -0.99 and 0.99 < noise.max() <= 1


def test_state_round_trip_continues_identically(trainer):
    trainer.train_step(real_batch(8))
    state = trainer.get_state()
    assert len(state["gan_optimizer"]) == 1 + 2 * len(
        trainer.generator.trainable_weights)
    assert len(state["disc_optimizer"]) == 1 + 2 * len(
        trainer.discriminator.trainable_weights)

    keras.utils.set_random_seed(7)
    batch = real_batch(8)
    np.random.seed(3)
    trainer.train_step(batch)
    expected = weights(trainer.generator)

    twin = GANTrainer(DCGAN.build_generator(7, 64),
                      DCGAN.build_discriminator(28, 28, 1), epochs=50)
    twin.set_state(state)
    np.random.seed(3)
    twin.train_step(batch)
    for a, b in zip(expected, twin.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
