"""What the tutorial's models need for a given image size, worked out from
the layers (no TensorFlow): checked before anything is built, so that
`--image-size 100000` is one line, not a process killed for memory."""
import os

LATENT_DIM, HIDDEN, DEPTH = 100, 512, 64     # DCGAN.build_generator's
FLOAT_BYTES = 4
WEIGHT_COPIES = 8
# of the machine's memory a run may plan to use; TensorFlow, the data and
# the montages need the rest
SHARE_OF_MEMORY = 0.8


def generator_parameters(image_size, channels):
    """DCGAN.build_generator(S/4, 64, channels)'s parameter count."""
    volume = (image_size // 4) ** 2 * DEPTH
    return ((LATENT_DIM + 1) * HIDDEN + 4 * HIDDEN        # Dense, BN
            + (HIDDEN + 1) * volume + 4 * volume          # Dense, BN
            + 25 * DEPTH * 32 + 32 + 4 * 32               # ConvT, BN
            + 25 * 32 * channels + channels)              # ConvT


def discriminator_parameters(image_size, channels):
    """DCGAN.build_discriminator(S, S, channels)'s parameter count."""
    volume = (image_size // 4) ** 2 * 64
    return (25 * channels * 32 + 32 + 25 * 32 * 64 + 64   # two Conv2D
            + (volume + 1) * HIDDEN + HIDDEN + 1)         # two Dense


def radford_parameters(image_size, channels, width=32, kernel=4):
    """DCGAN.build_radford_generator's plus build_radford_discriminator's
    parameter counts (their convolutions mirror each other)."""
    stages = image_size.bit_length() - 3
    depths = [8 * width // 2 ** stage for stage in range(stages)]
    square = kernel * kernel
    convolutions = sum(square * a * b for a, b in zip(depths, depths[1:]))
    first = 16 * depths[0]
    generator = ((LATENT_DIM + 1) * first + 4 * depths[0]
                 + convolutions + 4 * sum(depths[1:])
                 + square * depths[-1] * channels + channels)
    discriminator = (square * channels * depths[-1] + depths[-1]
                     + convolutions + 4 * sum(depths[:-1])
                     + first + 1)
    return generator + discriminator


def training_bytes(image_size, channels, batch_size, arch="tutorial"):
    """About what training needs: weights, gradients, Adam's two slots,
    the averaged generator and the copies a checkpoint makes of them (8
    copies of the weights: what a run measured above TensorFlow's own
    memory at 128x128 and 256x256, batch 8, on a CPU), and each layer's
    activations kept for the backward pass for the step's two batches of
    real and generated images."""
    if arch == "radford":
        weights = radford_parameters(image_size, channels)
    else:
        weights = (generator_parameters(image_size, channels)
                   + discriminator_parameters(image_size, channels))
    per_image = image_size ** 2 * (3 * 32 // 4 + 3 * DEPTH // 16
                                   + 3 * channels)
    return FLOAT_BYTES * (WEIGHT_COPIES * weights
                          + 4 * batch_size * per_image)


def machine_bytes():
    """This machine's physical memory, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def gigabytes(count):
    return f"{count / 2 ** 30:,.1f} GB"
