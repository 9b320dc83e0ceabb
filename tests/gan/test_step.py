"""The tape step (gan/step.py) against the tutorial's train_on_batch step:
from the same weights and the same random draws, two steps of each give
the same losses and weights to within float tolerance; the losses of
gan/losses.py on D's probabilities or logits."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.gan import losses
from pyimagesearch.gan.models import build_trainer
from pyimagesearch.gan.step import TapeTrainer
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.config import RunConfig

CLASSES = ["shirt", "bag", "boot"]
CASES = {
    "the tutorial's": {},
    "conditional one-hot, EMA, label noise and smoothing, one Adam": {
        "conditional": "onehot", "ema": 0.9, "label_noise": 0.2,
        "label_smoothing": 0.1, "shared_optimizer": True},
    "conditional projection, normal noise": {
        "conditional": "projection", "noise": "normal"},
    "the DCGAN paper's models (D's halves apart)": {
        "arch": "radford", "image_size": 16},
}


def config_for(settings, **more):
    classes = CLASSES if settings.get("conditional") else None
    return RunConfig.fresh(dict(batch_size=8, epochs=5, **settings, **more)
                           ).for_data(100, "sha1", 1, classes)


def run_steps(trainer, real, real_classes, steps=2):
    np.random.seed(5)
    tf.random.set_seed(5)
    return [trainer.train_step(real, real_classes) for _ in range(steps)]


@pytest.mark.parametrize("case", CASES)
def test_the_tape_step_trains_as_train_on_batch_does(case):
    settings = CASES[case]
    keras.utils.set_random_seed(list(CASES).index(case))   # reproducible
    keras_step = build_trainer(config_for(settings))
    tape_step = build_trainer(config_for(settings, step="tape"))
    assert type(keras_step).__name__ == "GANTrainer"
    assert isinstance(tape_step, TapeTrainer)
    start = ckpt.get_state(keras_step)
    ckpt.set_state(tape_step, start)
    size = keras_step.generator.output_shape[1]
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (8, size, size, 1)).astype("float32")
    real_classes = rng.integers(0, 3, 8) if settings.get("conditional") \
        else None
    losses_seen = [run_steps(trainer, real, real_classes)
                   for trainer in (keras_step, tape_step)]
    after = [ckpt.get_state(trainer) for trainer in (keras_step, tape_step)]
    moved = max(float(np.max(np.abs(after[0][name] - start[name])))
                for name in start if "optimizer" not in name)
    assert moved > 1e-3                      # the steps did train
    assert np.max(np.abs(np.subtract(*losses_seen))) < 1e-6
    # Adam divides by the root of the squared gradient: where a gradient
    # is near zero, float rounding moves a weight by a fraction of the
    # learning rate (2e-4 a step); 1e-5 is 5% of one step
    for name in start:
        assert np.max(np.abs(after[0][name] - after[1][name])) < 1e-5, name


@pytest.mark.parametrize("name", ["bce", "logistic", "hinge"])
def test_each_loss_trains_both_models_on_the_tape_step(name):
    trainer = build_trainer(config_for({}, step="tape", loss=name))
    assert trainer.loss.name == name
    before = ckpt.get_state(trainer)
    real = np.random.default_rng(0).uniform(
        -1, 1, (8, 28, 28, 1)).astype("float32")
    d_loss, g_loss = trainer.train_step(real)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
    after = ckpt.get_state(trainer)
    for model in ("generator/", "discriminator/"):
        assert any(np.max(np.abs(after[key] - before[key])) > 0
                   for key in before if key.startswith(model)), model


def test_the_losses_on_known_outputs():
    real, fake = tf.constant([[2.0]]), tf.constant([[-1.0]])
    logistic, hinge = losses.get_loss("logistic"), losses.get_loss("hinge")
    softplus = lambda x: np.log1p(np.exp(x))      # noqa: E731
    assert float(logistic.discriminator(real, [1.0])[0]) == \
        pytest.approx(softplus(-2.0), rel=1e-6)
    assert float(logistic.discriminator(fake, [0.0])[0]) == \
        pytest.approx(softplus(-1.0), rel=1e-6)
    assert float(logistic.generator(fake)[0]) == \
        pytest.approx(softplus(1.0), rel=1e-6)
    assert float(hinge.discriminator(real, [1.0])[0]) == 0.0   # past margin
    assert float(hinge.discriminator(fake, [0.0])[0]) == 0.0
    assert float(hinge.discriminator(tf.constant([[0.5]]), [1.0])[0]) == 0.5
    assert float(hinge.generator(fake)[0]) == 1.0
    bce = losses.get_loss("bce")
    assert float(bce.discriminator(tf.constant([[0.8]]), [1.0])[0]) == \
        pytest.approx(-np.log(0.8), rel=1e-5)
    assert float(bce.generator(tf.constant([[0.8]]))[0]) == \
        pytest.approx(-np.log(0.8), rel=1e-5)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_loss("wasserstein")


@pytest.mark.parametrize("name", ["logistic", "hinge"])
def test_soft_labels_weigh_the_real_and_fake_terms(name):
    """Label smoothing (0.9) and noise on a logits loss: y * the real
    term + (1 - y) * the fake term."""
    loss = losses.get_loss(name)
    logits = tf.constant([[0.7], [-0.4]])
    real = loss.discriminator(logits, [1.0, 1.0]).numpy()
    fake = loss.discriminator(logits, [0.0, 0.0]).numpy()
    soft = loss.discriminator(logits, [0.9, 0.2]).numpy()
    np.testing.assert_allclose(soft, [0.9 * real[0] + 0.1 * fake[0],
                                      0.2 * real[1] + 0.8 * fake[1]],
                               rtol=1e-6)


@pytest.mark.parametrize("settings", [
    {}, {"conditional": "projection"}, {"arch": "radford", "image_size": 16},
    {"conditional": "projection", "arch": "radford", "image_size": 16}])
def test_the_logits_route_is_the_input_of_the_sigmoid(settings):
    trainer = build_trainer(config_for(settings))
    critic = losses.logits_of(trainer.discriminator)
    assert critic.count_params() == trainer.discriminator.count_params()
    size = trainer.generator.output_shape[1]
    images = np.random.default_rng(1).uniform(
        -1, 1, (4, size, size, 1)).astype("float32")
    inputs = [images, np.array([[0], [1], [2], [0]])] \
        if settings.get("conditional") else images
    probabilities = trainer.discriminator(inputs, training=False)
    logits = critic(inputs, training=False)
    np.testing.assert_allclose(tf.sigmoid(logits), probabilities, rtol=1e-5)
    assert np.max(np.abs(logits)) > 0


def test_only_a_sigmoid_output_gives_logits():
    trainer = build_trainer(config_for({}))
    with pytest.raises(ValueError, match="does not end in a sigmoid"):
        losses.logits_of(trainer.generator)
