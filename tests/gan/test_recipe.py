"""The small-data recipe's parts (gan/step.py, gan/layers.py,
gan/trainer.py): the lazy R1 penalty, the spectrally normalised
discriminator, the minibatch standard deviation, the moving average's
ramp."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.gan.layers import (MinibatchStdDev, with_minibatch_stddev,
                                      with_spectral_norm)
from pyimagesearch.gan.losses import logits_of
from pyimagesearch.gan.models import build_trainer
from pyimagesearch.gan.step import R1_INTERVAL
from pyimagesearch.gan.trainer import ramped_decay
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.config import RunConfig


def trainer_for(**settings):
    config = RunConfig.fresh(dict(batch_size=8, epochs=5, image_size=16,
                                  step="tape", **settings)
                             ).for_data(100, "sha1", 1)
    return build_trainer(config)


def real_batch(size=16, seed=0):
    return np.random.default_rng(seed).uniform(
        -1, 1, (8, size, size, 1)).astype("float32")


def test_r1_is_half_gamma_times_the_squared_logit_gradient():
    trainer = trainer_for(r1=0.5, loss="hinge")
    real = real_batch()
    penalty = float(trainer.r1_penalty(tf.constant(real), 8))
    logits = logits_of(trainer.discriminator)
    images = tf.constant(real)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(logits(images, training=True))
    norms = tf.reduce_sum(tf.square(tape.gradient(total, images)),
                          axis=[1, 2, 3]).numpy()
    expected = 0.5 * 0.5 * R1_INTERVAL * norms.mean()
    assert penalty == pytest.approx(expected, rel=1e-5)
    assert penalty > 0


def test_r1_is_lazy_and_changes_only_the_steps_it_is_on():
    plain, penalised = trainer_for(loss="hinge"), trainer_for(
        loss="hinge", r1=10.0)
    real = real_batch()
    assert plain.regularize_now() is False      # no --r1: never
    on = []
    for step in range(R1_INTERVAL + 1):
        penalised.disc_model.optimizer.iterations.assign(step)
        on.append(penalised.regularize_now())
    assert on == [True] + [False] * (R1_INTERVAL - 1) + [True]

    def one_step(at):
        """From the same weights at D step `at`: the two trainers' D."""
        ckpt.set_state(penalised, ckpt.get_state(plain))
        for trainer in (plain, penalised):
            for optimizer in (trainer.disc_model.optimizer,
                              trainer.gan.optimizer):
                optimizer.iterations.assign(at)
            np.random.seed(at)
            trainer.train_step(real)
        return [ckpt.get_state(t) for t in (plain, penalised)]

    def largest_difference(states):
        return max(float(np.max(np.abs(states[0][name] - states[1][name])))
                   for name in states[0] if name.startswith("discriminator/"))
    # off the penalty's steps the two train alike; on them, D differs
    assert largest_difference(one_step(1)) == 0.0
    assert largest_difference(one_step(R1_INTERVAL)) > 1e-6


def test_spectral_norm_wraps_every_weight_layer_and_drops_batchnorm():
    from pyimagesearch.dcgan import DCGAN
    radford = DCGAN.build_radford_discriminator(16, 1, batchSize=8)
    assert any(isinstance(layer, keras.layers.BatchNormalization)
               for layer in radford.layers)
    normalised = with_spectral_norm(radford)
    kinds = [type(layer).__name__ for layer in normalised.layers]
    assert "BatchNormalization" not in " ".join(kinds)
    assert "BatchStatistics" not in kinds
    wrapped = [layer for layer in normalised.layers
               if isinstance(layer, keras.layers.SpectralNormalization)]
    plain = [layer for layer in radford.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(wrapped) == len(plain) > 0
    assert kinds[-1] == "Activation"        # the builders' sigmoid stays
    images = tf.constant(np.zeros((2, 16, 16, 1), "float32"))
    assert logits_of(normalised)(images).shape == (2, 1)


def test_spectral_norm_divides_each_kernel_by_its_largest_singular_value():
    plain = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32),
                              keras.layers.Dense(1),
                              keras.layers.Activation("sigmoid")])
    # glorot's 16 -> 32 kernel: its largest singular value is near 2
    assert np.linalg.svd(plain.layers[0].kernel.numpy(),
                         compute_uv=False)[0] > 1.5
    normalised = with_spectral_norm(plain)
    inputs = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    for _ in range(20):         # a power iteration each training call
        normalised(inputs, training=True)
    layer = normalised.layers[0]
    identity = np.eye(16, dtype="float32")
    # the linear map the layer applies: its outputs less its bias
    applied = (layer(identity, training=False).numpy()
               - layer(np.zeros_like(identity), training=False).numpy())
    assert np.linalg.svd(applied, compute_uv=False)[0] == pytest.approx(
        1.0, rel=0.02)
    # in a run, its u vectors are in the checkpoint: a resume goes on
    # exactly
    trainer = trainer_for(spectral_norm=True, loss="hinge")
    assert any("vector_u" in name for name in ckpt.get_state(trainer))


def test_minibatch_stddev_adds_each_group_s_spread_as_one_map():
    rng = np.random.default_rng(0)
    # two groups of 4 consecutive images: four copies of one image (no
    # spread), then four images of their own
    same = np.repeat(rng.normal(size=(1, 3, 3, 2)), 4, axis=0)
    varied = rng.normal(size=(4, 3, 3, 2))
    images = np.concatenate([same, varied]).astype("float32")
    out = np.asarray(MinibatchStdDev()(images))
    assert out.shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(out[..., :2], images)    # passed through
    # the group's standard deviation over its images, averaged over
    # positions and channels, the same map for each of its images
    expected = np.sqrt(varied.var(axis=0) + 1e-8).mean()
    np.testing.assert_allclose(out[4:, ..., 2], expected, rtol=1e-5)
    np.testing.assert_allclose(out[:4, ..., 2], 1e-4, rtol=1e-3)
    # the groups are consecutive: reordering within a group changes
    # nothing, moving an image to the other group does
    swapped = images[[3, 2, 1, 0, 7, 6, 5, 4]]
    np.testing.assert_allclose(np.asarray(MinibatchStdDev()(swapped))[
        ..., 2], out[[3, 2, 1, 0, 7, 6, 5, 4], ..., 2], rtol=1e-6)
    mixed = images[[0, 1, 2, 4, 3, 5, 6, 7]]
    assert float(np.asarray(MinibatchStdDev()(mixed))[0, 0, 0, 2]) > 0.1


def test_mbstd_sits_before_d_s_flatten_and_d_sees_its_batch():
    plain = trainer_for(loss="hinge").discriminator
    trainer = trainer_for(loss="hinge", mbstd=True, spectral_norm=True)
    names = [type(layer).__name__ for layer in trainer.discriminator.layers]
    flatten = names.index("Flatten")
    assert names[flatten - 1] == "MinibatchStdDev"
    assert names.count("MinibatchStdDev") == 1
    # one more map into the dense layer: 4x4x64 -> 4x4x65 at 16x16
    flat = [layer.output.shape[-1] for model in (plain,
            trainer.discriminator) for layer in model.layers
            if isinstance(layer, keras.layers.Flatten)]
    assert flat == [4 * 4 * 64, 4 * 4 * 65]
    # D's answer for one image now depends on the images grouped with it
    logits = logits_of(trainer.discriminator)
    real = real_batch()
    other = real.copy()
    other[1:4] = real[0]
    first = logits(real, training=True).numpy()[0]
    assert abs(first - logits(other, training=True).numpy()[0]) > 1e-6
    # and it is rebuilt from its configuration (as clone_model and saving do)
    again = keras.models.clone_model(with_minibatch_stddev(plain))
    assert any(isinstance(layer, MinibatchStdDev) for layer in again.layers)


@pytest.mark.parametrize("settings", [
    dict(loss="hinge"), dict(loss="hinge", spectral_norm=True),
    dict(loss="hinge", arch="radford")], ids=["plain", "spectral", "radford"])
def test_d_s_groups_never_mix_real_and_generated_images(settings):
    """The tape step passes D its real images, then as many fakes: with
    --mbstd, D's answers on the real half are those it gives the real
    images alone, and the fakes' those on the fakes alone."""
    trainer = trainer_for(mbstd=True, **settings)
    real = real_batch()
    fakes = trainer.generate(np.random.default_rng(1).uniform(
        -1, 1, (8, 100)).astype("float32"))
    critic = logits_of(trainer.discriminator)
    weights = trainer.discriminator.get_weights()

    def answers(images):
        # from the same weights each time: a training call moves spectral
        # normalisation's vectors
        trainer.discriminator.set_weights(weights)
        return critic(images, training=True).numpy()
    together = answers(np.concatenate([real, fakes]))
    np.testing.assert_allclose(together[:8], answers(real), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(together[8:], answers(fakes), rtol=1e-5,
                               atol=1e-6)
    # one step trains, D's loss finite
    d_loss, g_loss = trainer.train_step(real)
    assert np.isfinite([d_loss, g_loss]).all()


def test_mbstd_needs_a_flatten_to_sit_before():
    no_flatten = keras.Sequential([keras.Input((4, 4, 1)),
                                   keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="has no Flatten layer"):
        with_minibatch_stddev(no_flatten)


def assert_resumes_exactly(**settings):
    """Two steps of a trainer with `settings`, its state given to a fresh
    one, one more step of each: the same state.  Returns the state the
    second trainer resumed from."""
    first, second = trainer_for(**settings), trainer_for(**settings)
    for step in range(2):
        np.random.seed(step)
        first.train_step(real_batch(seed=step))
    state = ckpt.get_state(first)
    ckpt.set_state(second, state)
    for trainer in (first, second):
        np.random.seed(7)
        trainer.train_step(real_batch(seed=7))
    one, two = ckpt.get_state(first), ckpt.get_state(second)
    assert one.keys() == two.keys()
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)
    return state


def test_a_run_with_mbstd_resumes_exactly():
    assert_resumes_exactly(loss="hinge", mbstd=True, spectral_norm=True)


def test_the_average_s_half_life_ramps_up_to_the_decay_s():
    decay, batch = 0.999, 32
    longest = batch * np.log(0.5) / np.log(decay)
    # early: half-life = 5% of the images shown
    early = ramped_decay(decay, 0.05, batch, 3200)
    assert 0.5 ** (batch / (0.05 * 3200)) == pytest.approx(early)
    assert early < decay
    # late: the decay itself
    assert ramped_decay(decay, 0.05, batch, 10 ** 7) == pytest.approx(decay)
    assert 0.05 * 10 ** 7 > longest
    assert ramped_decay(decay, 0.05, batch, 0) == 0.0      # copy G at first


def test_the_ramped_average_follows_the_generator_early_on():
    ramped = trainer_for(ema=0.999, ema_rampup=0.05)
    plain = trainer_for(ema=0.999)
    ckpt.set_state(ramped, ckpt.get_state(plain))
    real = real_batch()
    for step in range(3):
        for trainer in (plain, ramped):
            np.random.seed(step)
            trainer.train_step(real)

    def distance(trainer):
        return max(float(np.max(np.abs(a - b))) for a, b in zip(
            trainer.generator_ema.get_weights(),
            trainer.generator.get_weights()))
    # the ramp's half-life is a few images: the average is close to G;
    # 0.999 from the start keeps it near G's first weights
    assert distance(ramped) < 0.2 * distance(plain)


@pytest.mark.slow      # XLA compiles for seconds
def test_the_xla_step_trains_as_the_plain_tape_step():
    # (without --augment, whose random draws XLA makes by another
    # algorithm)
    settings = dict(loss="hinge", spectral_norm=True, r1=1.0)
    plain, compiled = trainer_for(**settings), trainer_for(xla=True,
                                                           **settings)
    assert compiled._step._jit_compile is True
    assert not plain._step._jit_compile
    ckpt.set_state(compiled, ckpt.get_state(plain))
    real = real_batch()
    seen = []
    for trainer in (plain, compiled):
        np.random.seed(3)
        seen.append(trainer.train_step(real))       # with R1: step 0
    np.testing.assert_allclose(seen[0], seen[1], rtol=1e-4, atol=1e-5)
    after = [ckpt.get_state(trainer) for trainer in (plain, compiled)]
    for name in after[0]:
        np.testing.assert_allclose(after[0][name], after[1][name],
                                   rtol=1e-3, atol=1e-5, err_msg=name)


def test_adaptive_augmentation_applies_each_transform_with_probability_p():
    from pyimagesearch.gan.augment import DiffAugment
    images = tf.constant(real_batch(seed=2))
    adaptive = DiffAugment(("flip", "color", "cutout"), seed=1,
                           adaptive=True)
    assert float(adaptive.probability) == 0.0
    np.testing.assert_array_equal(adaptive(images).numpy(), images.numpy())
    adaptive.probability.assign(1.0)
    changed = np.abs(adaptive(images).numpy() - images.numpy()).reshape(
        8, -1).max(axis=1)
    assert (changed > 1e-3).all()       # colour and cutout on every image
    adaptive.probability.assign(0.5)
    many = tf.constant(np.random.default_rng(0).uniform(
        -1, 1, (400, 16, 16, 1)).astype("float32"))
    share = float(np.mean(np.abs(adaptive(many).numpy() - many.numpy())
                          .reshape(400, -1).max(axis=1) > 1e-6))
    # untouched only if no transform fell on it, or only a flip that
    # changed nothing: about (1 - 0.5)^2 for colour and cutout
    assert 0.65 < share < 0.85


def test_flip_mirrors_about_half_the_images():
    from pyimagesearch.gan.augment import DiffAugment
    images = np.random.default_rng(3).uniform(
        -1, 1, (200, 8, 8, 1)).astype("float32")
    flipped = DiffAugment(("flip",), seed=2)(tf.constant(images)).numpy()
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped,
                                                               images)]
    same = [np.array_equal(a, b) for a, b in zip(flipped, images)]
    assert all(m or s for m, s in zip(mirrored, same))
    assert 70 < sum(mirrored) < 130


def test_ada_raises_p_while_d_is_sure_of_real_images_and_lowers_it_after():
    from pyimagesearch.gan.step import ADA_INTERVAL, ADA_KIMG
    trainer = trainer_for(augment="color", ada=0.6, loss="hinge")
    iterations = trainer.disc_model.optimizer.iterations
    rise = ADA_INTERVAL * 8 / (ADA_KIMG * 1000)
    for step in range(1, 2 * ADA_INTERVAL + 1):
        iterations.assign(step)
        trainer.adapt_augmentation(8.0, 8)         # every real image: +1
    assert float(trainer.augment.probability) == pytest.approx(2 * rise)
    for step in range(2 * ADA_INTERVAL + 1, 3 * ADA_INTERVAL + 1):
        iterations.assign(step)
        trainer.adapt_augmentation(-8.0, 8)        # D unsure: lower it
    assert float(trainer.augment.probability) == pytest.approx(rise)
    assert float(trainer.augment.real_signs) == 0.0
    for step in range(3 * ADA_INTERVAL + 1, 20 * ADA_INTERVAL):
        iterations.assign(step)
        trainer.adapt_augmentation(-8.0, 8)
    assert float(trainer.augment.probability) == 0.0     # never below 0
    # p and the running sum are in the checkpoint
    state = ckpt.get_state(trainer)
    assert {"augment/probability", "augment/real_signs"} <= set(state)


@pytest.mark.parametrize("loss", ["hinge", "bce"])
def test_the_tape_step_reports_d_s_signs_on_real_images(loss):
    trainer = trainer_for(augment="color", ada=0.6, loss=loss)
    host = trainer.step_inputs(real_batch(), None)
    # p is 0 at first: D sees the real images as they are, with the
    # weights the step starts from; a probability's sign is its logit's
    logits = logits_of(trainer.discriminator)(
        tf.constant(host["real_images"]), training=True).numpy()
    d_loss, g_loss, signs = trainer.run_step(host)
    assert float(signs) == float(np.sign(logits).sum())
