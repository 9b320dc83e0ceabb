"""The self-supervised discriminator (gan/decoder.py, --self-supervised):
D's features, the decoder, its loss in D's update, its weights in the
checkpoint."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.gan.decoder import (build_decoder, reconstruction_error,
                                       with_features)
from pyimagesearch.gan.graph import input_of
from pyimagesearch.gan.losses import logits_of
from pyimagesearch.gan.models import build_trainer
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.config import RunConfig

from test_recipe import assert_resumes_exactly, real_batch, trainer_for


def test_d_s_features_are_what_its_flatten_takes_on_d_s_own_weights():
    trainer = trainer_for(loss="hinge", spectral_norm=True)
    discriminator = trainer.discriminator
    scored = with_features(discriminator, on_logits=True)
    assert len(scored.weights) == len(discriminator.weights)
    # the tutorial's D at 16x16: two stride-2 convolutions, 4x4x64
    assert tuple(scored.outputs[1].shape[1:]) == (4, 4, 64)
    real = real_batch()
    weights = discriminator.get_weights()
    score, features = scored(real, training=False)
    np.testing.assert_allclose(
        score, logits_of(discriminator)(real, training=False), rtol=1e-6)
    discriminator.set_weights(weights)
    np.testing.assert_allclose(
        with_features(discriminator, on_logits=False)(real)[0],
        discriminator(real), rtol=1e-6)
    # a model with no Flatten has no such features
    pooled = keras.Sequential([keras.Input((4, 4, 1)),
                               keras.layers.GlobalAveragePooling2D(),
                               keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no Flatten layer"):
        input_of(pooled.outputs[0], keras.layers.Flatten)


@pytest.mark.parametrize("features, channels, side", [
    ((8, 8, 64), 3, 32), ((7, 7, 32), 1, 28), ((4, 4, 256), 3, 16)])
def test_the_decoder_quadruples_the_side_into_an_image(features, channels,
                                                       side):
    decoder = build_decoder(features, channels)
    images = decoder(np.random.default_rng(0).normal(
        size=(2, *features)).astype("float32"))
    assert tuple(images.shape) == (2, side, side, channels)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0


def test_the_error_is_against_the_image_averaged_to_the_reconstruction():
    images = np.zeros((2, 4, 4, 1), "float32")
    images[0, :2, :2] = 1.0         # one 2x2 block of the first image lit
    exact = np.zeros((2, 2, 2, 1), "float32")
    exact[0, 0, 0] = 1.0
    np.testing.assert_allclose(reconstruction_error(exact, images), [0, 0])
    np.testing.assert_allclose(
        reconstruction_error(np.zeros_like(exact), images), [0.25, 0.0])
    np.testing.assert_allclose(
        reconstruction_error(images, images + 0.5), [0.25, 0.25])


@pytest.mark.parametrize("augment", [None, "translation,cutout"])
def test_the_penalty_is_the_mean_error_over_the_real_images_seen(augment):
    trainer = trainer_for(loss="hinge", self_supervised=True,
                          augment=augment)
    real, fakes = real_batch(), real_batch(seed=1)
    outputs = trainer.critic_model(np.concatenate([real, fakes]))
    seen = outputs[2].numpy()[:8]
    # the decoder rebuilds what D saw: the augmented image, if augmented
    assert np.array_equal(seen, real) == (augment is None)
    reconstructions = trainer.decoder(outputs[1][:8]).numpy()
    assert reconstructions.shape == (8, 16, 16, 1)
    expected = np.mean((reconstructions - seen) ** 2)
    penalty = trainer.reconstruction_penalty(outputs, 8, 8)
    assert float(penalty) == pytest.approx(expected, rel=1e-5)


def test_the_radford_d_rebuilds_the_image_averaged_to_16x16():
    config = RunConfig.fresh(dict(
        batch_size=8, epochs=5, image_size=32, step="tape", loss="hinge",
        arch="radford", self_supervised=True)).for_data(100, "sha1", 1)
    trainer = build_trainer(config)
    real = np.random.default_rng(0).uniform(
        -1, 1, (8, 32, 32, 1)).astype("float32")
    outputs = trainer.critic_model(real)
    reconstructions = trainer.decoder(outputs[1][:8]).numpy()
    assert reconstructions.shape == (8, 16, 16, 1)
    averaged = real.reshape(8, 16, 2, 16, 2, 1).mean(axis=(2, 4))
    expected = np.mean((reconstructions - averaged) ** 2)
    assert float(trainer.reconstruction_penalty(outputs, 8, 8)) == \
        pytest.approx(expected, rel=1e-5)


def same_start(plain, supervised):
    """`supervised` given `plain`'s G and D weights and step counts."""
    for mine, theirs in ((supervised.generator, plain.generator),
                         (supervised.discriminator, plain.discriminator)):
        mine.set_weights(theirs.get_weights())


# bce takes D's probabilities, hinge (as logistic) its logits
@pytest.mark.parametrize("loss", ["bce", "hinge"])
def test_the_decoder_trains_with_d_and_pulls_d_s_weights_only(loss):
    plain = trainer_for(loss=loss, spectral_norm=True)
    supervised = trainer_for(loss=loss, spectral_norm=True,
                             self_supervised=True)
    same_start(plain, supervised)
    decoder_before = [w.copy() for w in supervised.decoder.get_weights()]
    real = real_batch()
    losses = []
    for trainer in (plain, supervised):
        np.random.seed(3)
        losses.append(trainer.train_step(real))
    # D's adversarial loss, computed before its update, is the same: the
    # loss reported leaves the reconstruction out.  G's, after D's update,
    # is not: D moved otherwise
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)
    assert losses[0][1] != pytest.approx(losses[1][1], rel=1e-5)
    # D's weights moved differently (the reconstruction's gradient), and
    # the decoder was trained by D's optimizer
    assert any(np.abs(a - b).max() > 1e-7 for a, b in zip(
        plain.discriminator.get_weights(),
        supervised.discriminator.get_weights()))
    assert all(np.abs(a - b).max() > 0 for a, b in zip(
        decoder_before, supervised.decoder.get_weights()))
    slots = [name for name in ckpt.get_state(supervised)
             if name.startswith("disc_optimizer/decoder/")]
    assert len(slots) == 2 * len(supervised.decoder.trainable_variables)


def squares():
    """Eight 16x16 images, each a lit 8x8 square in another place."""
    images = np.full((8, 16, 16, 1), -1.0, "float32")
    for index in range(8):
        row, column = divmod(index, 4)
        images[index, 8 * row:8 * row + 8, 2 * column:2 * column + 8] = 1.0
    return images


def test_the_decoder_s_update_does_not_depend_on_the_fakes():
    """From the same D and decoder, two generators (other fakes): after
    one step the decoders are the same, as the fakes are not rebuilt."""
    first = trainer_for(loss="hinge", self_supervised=True)
    second = trainer_for(loss="hinge", self_supervised=True)
    second.discriminator.set_weights(first.discriminator.get_weights())
    second.decoder.set_weights(first.decoder.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(
        first.generator.get_weights(), second.generator.get_weights()))
    for trainer in (first, second):
        np.random.seed(0)
        trainer.train_step(real_batch())
    for a, b in zip(first.decoder.get_weights(),
                    second.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_d_learns_to_rebuild_each_real_image():
    # seeded: from five starting weights, 30 steps left 0.09-0.14
    keras.utils.set_random_seed(1)
    trainer = trainer_for(loss="hinge", spectral_norm=True,
                          self_supervised=True)
    real = squares()

    def error():
        features = trainer.critic_model(real, training=False)[1]
        return float(np.mean(reconstruction_error(
            trainer.decoder(features), real)))
    # the best one picture for all eight: their mean
    mean_image = float(np.mean((real - real.mean(axis=0)) ** 2))
    for step in range(30):
        np.random.seed(step)
        trainer.train_step(real)
    assert error() < mean_image / 3


def test_a_self_supervised_run_resumes_exactly():
    state = assert_resumes_exactly(
        loss="hinge", spectral_norm=True, self_supervised=True,
        augment="translation,cutout")
    assert any(name.startswith("decoder/") for name in state)
