"""The models' size worked out without building them, checked against the
models built."""
import pytest

from pyimagesearch.dcgan import DCGAN
from pyimagesearch.gan import memory


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3)])
def test_parameter_counts_match_the_built_models(size, channels):
    gen = DCGAN.build_generator(size // 4, 64, channels=channels)
    disc = DCGAN.build_discriminator(size, size, channels)
    assert memory.generator_parameters(size, channels) == gen.count_params()
    assert memory.discriminator_parameters(size, channels) == \
        disc.count_params()


def test_training_memory_grows_with_size_and_batch():
    small = memory.training_bytes(28, 1, 128)
    assert small > 8 * 4 * (1_727_233 + 1_658_753)
    assert memory.training_bytes(56, 1, 128) > 3 * small
    assert memory.training_bytes(28, 1, 256) > small
    assert memory.gigabytes(3 * 2 ** 30) == "3.0 GB"


@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 3),
                                           (128, 1)])
def test_radford_parameter_counts_match_the_built_models(size, channels):
    gen = DCGAN.build_radford_generator(size, channels)
    disc = DCGAN.build_radford_discriminator(size, channels)
    assert memory.radford_parameters(size, channels) == \
        gen.count_params() + disc.count_params()
    assert memory.training_bytes(size, channels, 32, "radford") != \
        memory.training_bytes(size, channels, 32)
