"""Differentiable augmentation (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training"), --augment POLICY: the same
random transforms applied to every image D sees, real and generated, in
D's step and in G's step, with G's gradient flowing through them, so that
D cannot memorise a small data set and G is not taught the transforms.

Images are in [-1, 1].  Each image draws its own transforms from the
layer's seed generator, whose state the checkpoint holds.

adaptive=True (--ada): each transform is applied to each image with
probability `probability` (ADA, Karras et al. 2020), a variable the
trainer adjusts as D overfits; without it every transform is applied to
every image, as the paper does."""
import keras
import tensorflow as tf

from .policy import CUTOUT_RATIO, TRANSLATION_RATIO


class DiffAugment(keras.layers.Layer):
    """The paper's transforms, in its order (colour, translation, cutout),
    each image drawing its own: brightness +-0.5, saturation x[0, 2],
    contrast x[0.5, 1.5]; a shift of up to 1/8 of the side with zeros
    filling in; one zeroed square of half the side."""

    def __init__(self, policy, seed=None, adaptive=False, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.policy = tuple(policy)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.probability = self.real_signs = None
        if adaptive:
            # p, from 0; and D's sign on real images summed since p last
            # moved: both in the checkpoint
            self.probability = keras.Variable(0.0, trainable=False,
                                              name="probability")
            self.real_signs = keras.Variable(0.0, trainable=False,
                                             name="real_signs")

    def uniform(self, shape, low=0.0, high=1.0):
        return keras.random.uniform(shape, low, high,
                                    seed=self.seed_generator)

    def integers(self, shape, low, high):
        """Integers in [low, high)."""
        return keras.random.randint(shape, low, high, dtype="int32",
                                    seed=self.seed_generator)

    def call(self, images):
        images = tf.cast(images, "float32")
        for name in self.policy:
            transformed = getattr(self, name)(images)
            if self.probability is not None:
                apply = self.uniform((tf.shape(images)[0], 1, 1, 1)) < \
                    self.probability
                transformed = tf.where(apply, transformed, images)
            images = transformed
        return images

    def flip(self, x):
        """Each image mirrored left to right with probability 1/2."""
        mirror = self.uniform((tf.shape(x)[0], 1, 1, 1)) < 0.5
        return tf.where(mirror, tf.reverse(x, axis=[2]), x)

    def color(self, x):
        batch = (tf.shape(x)[0], 1, 1, 1)
        x = x + (self.uniform(batch) - 0.5)                      # brightness
        mean = tf.reduce_mean(x, axis=3, keepdims=True)
        x = (x - mean) * (self.uniform(batch) * 2) + mean        # saturation
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        return (x - mean) * (self.uniform(batch) + 0.5) + mean   # contrast

    def translation(self, x):
        """Each image moved by up to 1/8 of the side (rounded) each way,
        zeros coming in: a gather from the zero-padded image."""
        batch, size = tf.shape(x)[0], x.shape[1]
        shift = int(size * TRANSLATION_RATIO + 0.5)
        padded = tf.pad(x, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
        offsets = self.integers((batch, 2), 0, 2 * shift + 1)
        positions = tf.range(size)
        rows = positions[None, :] + offsets[:, :1]      # (batch, size)
        cols = positions[None, :] + offsets[:, 1:]
        x = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(x, cols, axis=2, batch_dims=1)

    def cutout(self, x):
        """One square of half the side zeroed per image, its centre anywhere
        in the image (the square clipped at the edges)."""
        batch, size = tf.shape(x)[0], x.shape[1]
        side = int(size * CUTOUT_RATIO + 0.5)
        corner = self.integers((batch, 2), 0, size + (1 - side % 2)) - (
            side // 2)
        positions = tf.range(size)[None, :]
        inside_rows = (positions >= corner[:, :1]) & (
            positions < corner[:, :1] + side)
        inside_cols = (positions >= corner[:, 1:]) & (
            positions < corner[:, 1:] + side)
        erased = inside_rows[:, :, None] & inside_cols[:, None, :]
        return x * tf.cast(~erased, x.dtype)[:, :, :, None]

    def get_config(self):
        return {**super().get_config(), "policy": list(self.policy)}
