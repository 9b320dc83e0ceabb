"""--conditional's models and step, in both designs (a learned embedding
and a projection discriminator; keras-io's one-hot code): the class
reaches G and D, D learns only in its own step, the GAN is trained
through D with the same class, and every variable has its own name in a
checkpoint."""
import keras
import numpy as np
import pytest

from pyimagesearch.dcgan import DCGAN
from pyimagesearch.gan.layers import ClassOneHot
from pyimagesearch.gan.trainer import GANTrainer
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.montage import class_rows

CLASSES = 4


@pytest.fixture(params=[False, True], ids=["projection", "onehot"])
def trainer(request):
    keras.utils.set_random_seed(0)
    gen = DCGAN.build_conditional_generator(
        7, 64, CLASSES, classNames=["a", "b", "c", "d"],
        oneHot=request.param)
    disc = DCGAN.build_conditional_discriminator(28, 28, 1, CLASSES,
                                                 oneHot=request.param)
    return GANTrainer(gen, disc, epochs=5, num_classes=CLASSES, ema=0.9,
                      augment=("translation",))


def weights(model):
    return [w.copy() for w in model.get_weights()]


def changed(before, model):
    return any(not np.array_equal(a, b)
               for a, b in zip(before, model.get_weights()))


def test_the_class_changes_what_g_draws_and_how_d_scores(trainer):
    noise = trainer.sample_noise(2)
    same_noise = np.repeat(noise[:1], 2, axis=0)
    images = trainer.generate(same_noise, classes=[0, 3])
    assert images.shape == (2, 28, 28, 1)
    assert np.all(np.abs(images) <= 1)
    assert not np.allclose(images[0], images[1])
    disc = trainer.discriminator
    one_image = np.repeat(images[:1], 2, axis=0)
    scores = disc([one_image, np.array([[0], [3]], "int32")]).numpy()
    assert scores.shape == (2, 1) and scores[0] != scores[1]


def test_tutorial_trunk_kept(trainer):
    # the tutorial's layers, in its order, after the class is joined in
    kinds = [type(layer).__name__ for layer in trainer.generator.layers]
    assert kinds[kinds.index("Concatenate") + 1:] == [
        "Dense", "Activation", "BatchNormalization", "Dense", "Activation",
        "BatchNormalization", "Reshape", "Conv2DTranspose", "Activation",
        "BatchNormalization", "Conv2DTranspose", "Activation"]
    d_kinds = [type(layer).__name__ for layer in trainer.discriminator.layers]
    assert d_kinds.count("Conv2D") == 2 and d_kinds[-1] == "Activation"


def test_d_learns_in_its_step_only_and_g_through_d(trainer):
    gen, disc = trainer.generator, trainer.discriminator
    real = np.random.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    classes = np.arange(8) % CLASSES
    for _ in range(2):                 # the second time re-uses the traces
        d_before, g_before = weights(disc), weights(gen)
        trainer.discriminator_step(real, classes, trainer.draw(8))
        assert changed(d_before, disc) and not changed(g_before, gen)
        d_before, g_before = weights(disc), weights(gen)
        trainer.generator_step(trainer.draw(8))
        assert changed(g_before, gen) and not changed(d_before, disc)
        assert disc.trainable
    # the class embeddings of both models are trained (projection); the
    # one-hot code has no weights, and D reads it as extra channels
    embeddings = [layer for model in (gen, disc) for layer in model.layers
                  if isinstance(layer, keras.layers.Embedding)]
    one_hot = any(isinstance(layer, ClassOneHot) for layer in gen.layers)
    assert len(embeddings) == (0 if one_hot else 2)
    if one_hot:
        first_conv = [layer for layer in disc.layers
                      if isinstance(layer, keras.layers.Conv2D)][0]
        assert first_conv.kernel.shape[2] == 1 + CLASSES
    for embedding in embeddings:
        before = embedding.get_weights()[0].copy()
        trainer.train_step(real, classes)
        assert not np.array_equal(before, embedding.get_weights()[0])


def test_every_variable_named_once_in_a_checkpoint(trainer):
    trainer.train_step(np.zeros((4, 28, 28, 1), "float32"), [0, 1, 2, 3])
    named = ckpt.trainer_variables(trainer)
    count = (len(trainer.generator.variables)
             + len(trainer.discriminator.variables)
             + len(trainer.generator_ema.variables))
    assert sum(key.startswith(("generator/", "discriminator/",
                               "generator_ema/")) for key in named) == count


def test_montage_rows_are_classes_with_the_same_noise():
    noise = np.arange(40, dtype="float32").reshape(20, 2)
    tiled, classes, grid = class_rows(noise, 3, columns=4)
    assert grid == (4, 3) and classes.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert np.array_equal(tiled[4:8], noise[:4])
    assert np.array_equal(tiled[8:12], noise[:4])


def test_unconditional_trainer_draws_no_classes():
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(DCGAN.build_generator(7, 64),
                         DCGAN.build_discriminator(28, 28, 1), epochs=5)
    state = np.random.get_state()[1].copy()
    assert trainer.sample_classes(8) is None
    assert np.array_equal(state, np.random.get_state()[1])


def test_a_saved_generator_keeps_its_class_names(trainer, tmp_path):
    from pyimagesearch.runfiles.saved import (class_names, load_generator,
                                         save_generator)
    path = str(tmp_path / "generator.keras")
    save_generator(trainer.generator, path)
    loaded = load_generator(path)
    assert class_names(loaded) == ["a", "b", "c", "d"]
    noise = trainer.sample_noise(3)
    np.testing.assert_allclose(
        loaded.predict_on_batch([noise, np.array([[0], [1], [3]])]),
        trainer.generate(noise, classes=[0, 1, 3]), atol=1e-6)
    assert class_names(DCGAN.build_generator(7, 64)) is None


@pytest.mark.parametrize("one_hot", [False, True],
                         ids=["projection", "onehot"])
def test_radford_models_take_the_class_too(one_hot):
    keras.utils.set_random_seed(1)
    gen = DCGAN.build_conditional_radford_generator(16, 3, 3,
                                                    oneHot=one_hot)
    disc = DCGAN.build_conditional_radford_discriminator(
        16, 3, 3, batchSize=4, oneHot=one_hot)
    trainer = GANTrainer(gen, disc, epochs=5, num_classes=3,
                         mixed_batches=False)
    real = np.random.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    # (G's BatchNorm statistics move in D's step: its fakes come from G in
    # training mode, as for the unconditional radford models)
    g_trained = [w.numpy().copy() for w in gen.trainable_weights]
    d_before = weights(disc)
    trainer.discriminator_step(real, np.array([0, 1, 2, 0]),
                               trainer.draw(4))
    assert changed(d_before, disc)
    assert all(np.array_equal(a, w.numpy())
               for a, w in zip(g_trained, gen.trainable_weights))
    d_before, g_before = weights(disc), weights(gen)
    trainer.generator_step(trainer.draw(4))
    assert changed(g_before, gen) and not changed(d_before, disc)
    images = trainer.generate(np.repeat(trainer.sample_noise(1), 2, axis=0),
                              classes=[0, 2])
    assert images.shape == (2, 16, 16, 3)
    assert not np.allclose(images[0], images[1])
    named = ckpt.trainer_variables(trainer)
    assert sum(key.startswith(("generator/", "discriminator/"))
               for key in named) == len(gen.variables) + len(disc.variables)


@pytest.mark.parametrize("arch,size", [("tutorial", 28), ("radford", 16)])
def test_the_run_builds_the_design_it_names(arch, size):
    # --conditional DESIGN reaches the builders: onehot has no class
    # weights and D reads the code as extra input channels; projection
    # embeds the class in both models
    from pyimagesearch.gan.models import build_discriminator, build_generator
    from pyimagesearch.runfiles.config import RunConfig
    for design in ("projection", "onehot"):
        config = RunConfig(conditional=design, arch=arch, image_size=size,
                           channels=1, batch_size=4,
                           class_names=["a", "b", "c"])
        gen, disc = build_generator(config), build_discriminator(config)
        kinds = {type(layer) for model in (gen, disc)
                 for layer in model._flatten_layers()}
        first_conv = [layer for layer in disc._flatten_layers()
                      if isinstance(layer, keras.layers.Conv2D)][0]
        if design == "onehot":
            assert ClassOneHot in kinds
            assert not any(issubclass(kind, keras.layers.Embedding)
                           for kind in kinds)
            assert first_conv.kernel.shape[2] == 1 + 3
        else:
            assert ClassOneHot not in kinds
            assert first_conv.kernel.shape[2] == 1
        image = np.repeat(np.random.uniform(-1, 1, (1, size, size, 1)), 2,
                          axis=0).astype("float32")
        scores = disc([image, np.array([[0], [2]], "int32")]).numpy()
        assert scores[0] != scores[1]     # D's score depends on the class
