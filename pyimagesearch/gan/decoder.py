"""A self-supervised discriminator (--self-supervised): lightweight-gan's
and FastGAN's (Liu et al. 2021, "Towards Faster and Stabilized GAN
Training for High-fidelity Few-shot Image Synthesis").  A small decoder
rebuilds each real image D sees from D's last feature maps (those its
Flatten takes), and D's update adds the reconstruction's mean squared
error to its adversarial loss, so that D's features must describe the
image, not only tell a few thousand memorised images from fakes.  The
decoder is trained with D, by D's optimizer; G never sees it."""
import tensorflow as tf
from tensorflow.keras.layers import Conv2D, Flatten, Input, LeakyReLU
from tensorflow.keras.layers import UpSampling2D
from tensorflow.keras.models import Model

from .graph import input_of
from .losses import logits_of

# the decoder doubles its maps' side this many times: D's 8x8 features of
# a 32x32 image (the tutorial's D) become a 32x32 image
UPSAMPLINGS = 2
# the fewest channels a decoder layer keeps
MIN_DECODER_FILTERS = 8


def with_features(discriminator, on_logits):
    """A model sharing D's layers (no new weights) that gives D's score
    (its logits with `on_logits`, else its output) and the feature maps
    D's Flatten takes."""
    score = logits_of(discriminator).outputs[0] if on_logits \
        else discriminator.outputs[0]
    features = input_of(discriminator.outputs[0], Flatten)
    return Model(discriminator.inputs, [score, features],
                 name=f"{discriminator.name}_features")


def build_decoder(feature_shape, channels):
    """Feature maps (height, width, filters) to an image 2**UPSAMPLINGS
    times their side, in [-1, 1] as the training images: each doubling an
    upsampling and a 3x3 convolution with half the channels."""
    inputs = Input(shape=feature_shape)
    x = inputs
    filters = feature_shape[-1]
    for _ in range(UPSAMPLINGS):
        # 8x8xF -> 16x16xF/2 -> 32x32xF/4 (the tutorial's D at 32x32)
        filters = max(filters // 2, MIN_DECODER_FILTERS)
        x = UpSampling2D()(x)
        x = Conv2D(filters, (3, 3), padding="same")(x)
        x = LeakyReLU(negative_slope=0.2)(x)
    outputs = Conv2D(channels, (3, 3), padding="same",
                     activation="tanh", dtype="float32")(x)
    return Model(inputs, outputs, name="decoder")


def reconstruction_target(images, side):
    """What the decoder rebuilds: `images` (batch, S, S, C) averaged down
    to side x side (S a multiple of side: the tutorial's D rebuilds the
    whole image, the DCGAN paper's, 4x4 features, 16x16)."""
    factor = images.shape[1] // side
    images = tf.cast(images, "float32")
    if factor == 1:
        return images
    return tf.nn.avg_pool2d(images, factor, factor, "VALID")


def reconstruction_error(reconstructions, images):
    """Per image: the mean squared error of its reconstruction against the
    image averaged down to the reconstruction's size."""
    target = reconstruction_target(images, reconstructions.shape[1])
    return tf.reduce_mean(tf.square(
        tf.cast(reconstructions, "float32") - target), axis=[1, 2, 3])
