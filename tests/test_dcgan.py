"""The builders reproduce the tutorial's architecture exactly (SPEC)."""
import pytest

from pyimagesearch.dcgan import DCGAN


def layer_table(model):
    return [(layer.__class__.__name__, layer.count_params(),
             tuple(layer.output.shape)) for layer in model.layers]


def test_generator_matches_tutorial_summary():
    gen = DCGAN.build_generator(7, 64, channels=1)
    assert layer_table(gen) == [
        ("Dense", 51712, (None, 512)),
        ("Activation", 0, (None, 512)),
        ("BatchNormalization", 2048, (None, 512)),
        ("Dense", 1608768, (None, 3136)),
        ("Activation", 0, (None, 3136)),
        ("BatchNormalization", 12544, (None, 3136)),
        ("Reshape", 0, (None, 7, 7, 64)),
        ("Conv2DTranspose", 51232, (None, 14, 14, 32)),
        ("Activation", 0, (None, 14, 14, 32)),
        ("BatchNormalization", 128, (None, 14, 14, 32)),
        ("Conv2DTranspose", 801, (None, 28, 28, 1)),
        ("Activation", 0, (None, 28, 28, 1)),
    ]
    assert gen.count_params() == 1727233
    assert gen.layers[-1].get_config()["activation"] == "tanh"
    assert gen.input_shape == (None, 100)


def test_discriminator_matches_tutorial():
    disc = DCGAN.build_discriminator(28, 28, 1)
    assert layer_table(disc) == [
        ("Conv2D", 832, (None, 14, 14, 32)),
        ("LeakyReLU", 0, (None, 14, 14, 32)),
        ("Conv2D", 51264, (None, 7, 7, 64)),
        ("LeakyReLU", 0, (None, 7, 7, 64)),
        ("Flatten", 0, (None, 3136)),
        ("Dense", 1606144, (None, 512)),
        ("LeakyReLU", 0, (None, 512)),
        ("Dense", 513, (None, 1)),
        ("Activation", 0, (None, 1)),
    ]
    assert disc.count_params() == 1658753
    assert disc.layers[1].negative_slope == pytest.approx(0.2)
    assert disc.layers[-1].get_config()["activation"] == "sigmoid"


def test_builders_stay_general():
    gen = DCGAN.build_generator(8, 128, channels=3, inputDim=64,
                                outputDim=256)
    assert gen.input_shape == (None, 64)
    assert gen.output_shape == (None, 32, 32, 3)
    disc = DCGAN.build_discriminator(32, 32, 3, alpha=0.1)
    assert disc(gen.outputs[0]).shape == (None, 1)
    assert disc.layers[1].negative_slope == pytest.approx(0.1)
    # a non-square discriminator input keeps (height, width, depth) order
    wide = DCGAN.build_discriminator(width=40, height=24, depth=1)
    assert wide.input_shape == (None, 24, 40, 1)
