"""The adversarial step: D learns in its step, stays frozen in G's step,
through re-traces; the 2020 optimizer settings are reproduced."""
import keras
import numpy as np
import pytest

from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.dcgan import DCGAN
from pyimagesearch.gan.noise import sample_noise, seeded_noise
from pyimagesearch.gan.trainer import (INIT_LR, GANTrainer, frozen,
                                       make_optimizer)
from pyimagesearch.runfiles.checkpoint import model_variables


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
    trainer.discriminator_step(real_batch(batch_size), None,
                               trainer.draw(batch_size))
    assert changed(d_before, disc), "D did not learn in its own step"
    assert not changed(g_before, gen), "G changed in D's step"

    d_before, g_before = weights(disc), weights(gen)
    trainer.generator_step(trainer.draw(batch_size))
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
    # by default one optimizer per model, as the tutorial's text says
    assert trainer.discriminator.optimizer is not trainer.gan.optimizer


def current_lr(optimizer):
    return float(optimizer._learning_rate(optimizer.iterations))


@pytest.mark.parametrize("shared", [False, True])
def test_optimizer_counts_and_decay(shared):
    """The 2020 code's one Adam for both models (--shared-optimizer) counts
    two iterations a step, so its decay runs twice as fast."""
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(DCGAN.build_generator(7, 64),
                         DCGAN.build_discriminator(28, 28, 1), epochs=50,
                         shared_optimizer=shared)
    assert (trainer.discriminator.optimizer is trainer.gan.optimizer) == shared
    k = 3
    for _ in range(k):
        trainer.train_step(real_batch(4))
    for optimizer in (trainer.discriminator.optimizer, trainer.gan.optimizer):
        t = 2 * k if shared else k
        assert int(optimizer.iterations) == t
        assert current_lr(optimizer) == pytest.approx(
            2e-4 / (1 + (2e-4 / 50) * t), rel=1e-6)
    # a shared optimizer holds slots for both models' variables, once
    names = list(ckpt.get_state(trainer))
    prefixes = {name.split("/")[0] for name in names}
    assert prefixes == ({"generator", "discriminator", "optimizer"} if shared
                        else {"generator", "discriminator", "disc_optimizer",
                              "gan_optimizer"})
    if shared:
        assert "optimizer/generator/00_Dense/kernel/momentum" in names
        assert "optimizer/discriminator/00_Conv2D/kernel/velocity" in names


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


def test_state_is_named_by_layer_position_not_by_keras_counters(trainer):
    state = ckpt.get_state(trainer)
    gen_slots = [n for n in state if n.startswith("gan_optimizer/")]
    disc_slots = [n for n in state if n.startswith("disc_optimizer/")]
    assert len(gen_slots) == 1 + 2 * len(trainer.generator.trainable_weights)
    assert len(disc_slots) == 1 + 2 * len(
        trainer.discriminator.trainable_weights)
    assert "gan_optimizer/iteration" in state
    assert "gan_optimizer/generator/10_Conv2DTranspose/kernel/momentum" \
        in state
    assert "generator/05_BatchNormalization/moving_variance" in state
    assert "disc_optimizer/discriminator/02_Conv2D/bias/velocity" in state
    # a second pair of models in the same process gets other Keras paths
    # (dense_5, adam_3...) but the same names
    twin = GANTrainer(DCGAN.build_generator(7, 64),
                      DCGAN.build_discriminator(28, 28, 1), epochs=50)
    assert list(ckpt.get_state(twin)) == list(state)
    assert trainer.generator.weights[0].path != twin.generator.weights[0].path


def test_state_round_trip_continues_identically(trainer):
    trainer.train_step(real_batch(8))
    state = ckpt.get_state(trainer)

    keras.utils.set_random_seed(7)
    batch = real_batch(8)
    np.random.seed(3)
    trainer.train_step(batch)
    expected = weights(trainer.generator)

    twin = GANTrainer(DCGAN.build_generator(7, 64),
                      DCGAN.build_discriminator(28, 28, 1), epochs=50)
    ckpt.set_state(twin, state)
    np.random.seed(3)
    twin.train_step(batch)
    for a, b in zip(expected, twin.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_version_1_checkpoints_are_converted(trainer, tmp_path):
    """Format 1 saved each model's get_weights() and each optimizer's
    variables as lists; they load into the named state unchanged."""
    trainer.train_step(real_batch(8))
    lists = {"generator": trainer.generator.get_weights(),
             "discriminator": trainer.discriminator.get_weights(),
             "disc_optimizer": [v.numpy() for v in
                                trainer.discriminator.optimizer.variables],
             "gan_optimizer": [v.numpy() for v in
                               trainer.gan.optimizer.variables]}
    payload = {f"{key}/{i:04d}": value for key, values in lists.items()
               for i, value in enumerate(values)}
    meta = {"format": ckpt.FORMAT, "version": 1, "epoch": 1, "batch": 0,
            "counts": {key: len(values) for key, values in lists.items()}}
    path = str(tmp_path / "ckpt-00000001.npz")
    payload["meta"] = np.frombuffer(__import__("json").dumps(meta).encode(),
                                    dtype=np.uint8)
    np.savez(path, **payload)
    saved, meta, _ = ckpt.load_checkpoint(path)
    expected = ckpt.get_state(trainer)
    shapes = {name: value.shape for name, value in expected.items()}
    fitted = ckpt.fit_state(path, meta, saved, shapes)
    assert list(fitted) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(fitted[name], expected[name])


def test_dropout_seed_state_travels_with_the_weights():
    """Layers that draw randomness (dropout) keep a seed generator whose
    state is a variable: it is part of the named state, so a resumed
    run draws the same masks."""
    def model():
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(8),
                                 keras.layers.Dropout(0.5)])
    keras.utils.set_random_seed(0)
    a = model()
    a(np.ones((2, 8)), training=True)
    named = model_variables(a, "d")
    assert "d/01_Dropout/seed_generator_state" in named
    b = model()
    for name, variable in model_variables(b, "d").items():
        variable.assign(named[name])
    np.testing.assert_array_equal(a(np.ones((4, 8)), training=True),
                                  b(np.ones((4, 8)), training=True))


# --- the GAN tips (off by default) ---------------------------------------

def test_normal_noise_is_standard_normal():
    noise = sample_noise(4000, noise="normal")
    assert noise.shape == (4000, 100) and noise.dtype == np.float32
    assert abs(noise.mean()) < 0.01 and noise.std() == pytest.approx(1, abs=0.01)
    assert noise.min() < -3 and noise.max() > 3       # not clipped to tanh's
    np.testing.assert_array_equal(seeded_noise(5, 3, 100, "normal"),
                                  seeded_noise(5, 3, 100, "normal"))
    assert np.abs(seeded_noise(5, 100, 100, "normal")).max() > 1


def test_labels_untouched_and_no_random_draw_when_off(trainer):
    labels = np.array([1, 0, 1, 0])
    before = np.random.get_state()[1].copy(), np.random.get_state()[2]
    assert trainer.noisy_labels(labels) is labels
    after = np.random.get_state()
    assert (after[1] == before[0]).all() and after[2] == before[1]


def test_label_noise_flips_a_fraction_then_smoothing_softens_real():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(DCGAN.build_generator(7, 64),
                         DCGAN.build_discriminator(28, 28, 1), epochs=50,
                         label_noise=0.2, label_smoothing=0.1)
    labels = np.array([1] * 5000 + [0] * 5000)
    noisy = trainer.noisy_labels(labels)
    assert set(np.unique(noisy)) == {0.0, np.float32(0.9)}
    flipped = (noisy > 0.5) != (labels == 1)
    assert flipped.mean() == pytest.approx(0.2, abs=0.02)
    assert flipped[:5000].mean() == pytest.approx(0.2, abs=0.03)  # both kinds
    assert flipped[5000:].mean() == pytest.approx(0.2, abs=0.03)


def test_learning_rates_are_per_model():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(DCGAN.build_generator(7, 64),
                         DCGAN.build_discriminator(28, 28, 1), epochs=10,
                         disc_lr=4e-4, gan_lr=1e-4)
    for optimizer, lr in ((trainer.discriminator.optimizer, 4e-4),
                          (trainer.gan.optimizer, 1e-4)):
        for t in (0, 100):   # the tutorial's decay = lr / epochs, for each
            assert float(optimizer._learning_rate(t)) == pytest.approx(
                lr / (1 + lr / 10 * t), rel=1e-6)


def test_discriminator_dropout_is_opt_in():
    def dropouts(model):
        return [layer.rate for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)]
    assert dropouts(DCGAN.build_discriminator(28, 28, 1)) == []
    with_dropout = DCGAN.build_discriminator(28, 28, 1, 0.2, dropout=0.3)
    assert dropouts(with_dropout) == [0.3] * 3
    # right after each LeakyReLU
    kinds = [type(layer).__name__ for layer in with_dropout.layers]
    assert [kinds[i - 1] for i, kind in enumerate(kinds)
            if kind == "Dropout"] == ["LeakyReLU"] * 3
    assert with_dropout.count_params() == \
        DCGAN.build_discriminator(28, 28, 1).count_params()


def test_ema_is_a_moving_average_and_part_of_the_state():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(DCGAN.build_generator(7, 64),
                         DCGAN.build_discriminator(28, 28, 1), epochs=50,
                         ema=0.9)
    for a, b in zip(trainer.generator_ema.get_weights(),
                    trainer.generator.get_weights()):
        np.testing.assert_array_equal(a, b)        # starts as G
    average, model = trainer.generator_ema, trainer.generator
    before = [v.numpy() for v in average.trainable_variables]
    trainer.train_step(real_batch(8))
    for old, new, current in zip(before, average.trainable_variables,
                                 model.trainable_variables):
        np.testing.assert_allclose(new.numpy(), 0.9 * old + 0.1 * current,
                                   rtol=1e-5, atol=1e-7)
    # BatchNorm's moving statistics (averages already) are G's own
    assert len(average.non_trainable_variables) == 6
    for mine, theirs in zip(average.non_trainable_variables,
                            model.non_trainable_variables):
        assert "moving_" in mine.name
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert not np.array_equal(average.trainable_variables[0].numpy(),
                              model.trainable_variables[0].numpy())
    names = list(ckpt.get_state(trainer))
    assert "generator_ema/07_Conv2DTranspose/kernel" in names
    assert "generator_ema/02_BatchNormalization/moving_mean" in names
    noise = sample_noise(4)
    np.testing.assert_allclose(
        trainer.generate(noise, ema=True),
        trainer.generator_ema(noise, training=False).numpy(), atol=1e-6)
