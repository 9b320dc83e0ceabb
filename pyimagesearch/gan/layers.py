"""Layers that are not in the tutorial's network, used by the builders
in pyimagesearch/dcgan.py: dropout in D (a GAN tip), BatchNorm for a D
that trains on real and generated halves (--arch radford), and the class
inputs of the conditional models (--conditional); and the small-data
recipe's changes to a built D (--spectral-norm, --mbstd).  Registered as
"dcgan>..." for saved models, as when they lived in dcgan.py."""
import keras
from keras import ops
from tensorflow.keras.layers import BatchNormalization
from tensorflow.keras.layers import Dropout
from tensorflow.keras.layers import Embedding
from tensorflow.keras.layers import Flatten
from tensorflow.keras.layers import Reshape
from tensorflow.keras.layers import UpSampling2D

from .architectures import MBSTD_GROUP


def add_dropout(model, rate):
	# not in the tutorial's network: Chollet's tip of dropout in the
	# discriminator after each LeakyReLU (off unless asked for)
	if rate > 0:
		model.add(Dropout(rate))


@keras.saving.register_keras_serializable(package="dcgan")
class BatchStatistics(BatchNormalization):
	# not in the tutorial's network: BatchNorm for a discriminator trained
	# on real and generated images in one batch, and frozen for the
	# generator's step.  Two Keras behaviours would let D tell the sets
	# apart by the batch statistics alone, and G learn nothing: one mixed
	# batch normalises real and fake images together (D's step) while
	# G's step normalises fakes alone, and a frozen BatchNorm runs in
	# inference mode.  Here, in every training call, frozen or not, each
	# group of `group` consecutive images (a real half, a fake half, G's
	# batch) is normalised by its own statistics, as two separate batches
	# would be; only an unfrozen layer updates its moving statistics
	def __init__(self, group=None, **kwargs):
		super().__init__(**kwargs)
		self.group = group

	def call(self, inputs, training=None, mask=None):
		if not training:
			return super().call(inputs, training=training, mask=mask)
		x = ops.cast(inputs, "float32")
		rank = len(x.shape)
		axis = self.axis % rank
		group = self.group or ops.shape(x)[0]
		grouped = ops.reshape(x, (-1, group) + tuple(x.shape[1:]))
		axes = [1] + [i + 1 for i in range(1, rank) if i != axis]
		mean, variance = ops.moments(grouped, axes=axes, keepdims=True)
		normed = (grouped - mean) * ops.rsqrt(variance + self.epsilon)
		outputs = ops.reshape(normed * self.gamma + self.beta,
			ops.shape(x))
		if self.trainable:
			flat = [i for i in range(mean.ndim) if i != axis + 1]
			for moving, batch in ((self.moving_mean, mean),
				(self.moving_variance, variance)):
				moving.assign(moving * self.momentum + ops.mean(batch,
					axis=flat) * (1.0 - self.momentum))
		return ops.cast(outputs, self.compute_dtype)

	def get_config(self):
		return {**super().get_config(), "group": self.group}


@keras.saving.register_keras_serializable(package="dcgan")
class ClassEmbedding(Embedding):
	# not in the tutorial's network: a learned vector per class, which
	# also keeps the classes' names, so that a saved conditional
	# generator can say what it draws
	def __init__(self, input_dim, output_dim, classNames=None, **kwargs):
		super().__init__(input_dim, output_dim, **kwargs)
		self.classNames = list(classNames) if classNames else None

	def get_config(self):
		return {**super().get_config(), "classNames": self.classNames}


@keras.saving.register_keras_serializable(package="dcgan")
class ClassOneHot(keras.layers.Layer):
	# not in the tutorial's network: the class as a fixed one-hot vector
	# (keras-io's conditional GAN), keeping the class names, as
	# ClassEmbedding does
	def __init__(self, input_dim, classNames=None, **kwargs):
		super().__init__(**kwargs)
		self.input_dim = input_dim
		self.classNames = list(classNames) if classNames else None

	def call(self, label):
		label = ops.cast(ops.reshape(label, (-1,)), "int32")
		return ops.one_hot(label, self.input_dim, dtype=self.compute_dtype)

	def compute_output_shape(self, input_shape):
		return (input_shape[0], self.input_dim)

	def get_config(self):
		return {**super().get_config(), "input_dim": self.input_dim,
			"classNames": self.classNames}


def class_code(label, numClasses, embedDim, classNames, oneHot):
	# G's class input: a learned embedding, or (oneHot) a one-hot vector
	if oneHot:
		return ClassOneHot(numClasses, classNames=classNames)(label)
	return Flatten()(ClassEmbedding(numClasses, embedDim,
		classNames=classNames)(label))


def class_channels(label, numClasses, size):
	# D's class input with oneHot: the one-hot vector as numClasses
	# constant channels beside the image's (keras-io's conditional GAN)
	code = Reshape((1, 1, numClasses))(ClassOneHot(numClasses)(label))
	return UpSampling2D(size=size)(code)


@keras.saving.register_keras_serializable(package="dcgan")
class NoNormalization(keras.layers.Layer):
	# not in the tutorial's network: what --spectral-norm puts where a
	# discriminator had BatchNorm (a layer that passes its input through,
	# called as BatchNorm was, with `training` and `mask`)
	def call(self, inputs, training=None, mask=None):
		return inputs


def with_spectral_norm(discriminator):
	# not in the tutorial's network (--spectral-norm): the same
	# discriminator with every Conv2D and Dense under Keras'
	# SpectralNormalization (Miyato et al. 2018) and no BatchNorm, a D
	# whose slope is held near 1 however little data it sees.  Its layers
	# are new (the same configurations, fresh weights, their seeds drawn
	# from the run's stream as any layer's); the sigmoid at its end stays
	# (losses.logits_of finds the logit before it)
	def clone(layer):
		config = layer.get_config()
		if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
			return keras.layers.SpectralNormalization(
				layer.__class__.from_config(config),
				name="spectral_" + layer.name)
		if isinstance(layer, BatchNormalization):
			return NoNormalization(name=layer.name)
		return layer.__class__.from_config(config)

	return keras.models.clone_model(discriminator, clone_function=clone)


@keras.saving.register_keras_serializable(package="dcgan")
class MinibatchStdDev(keras.layers.Layer):
	# not in the tutorial's network (--mbstd): StyleGAN's minibatch
	# standard deviation (Karras et al. 2018).  Each image gets one more
	# feature map holding the spread of its group's features (the
	# standard deviation over `group` images, averaged over positions
	# and channels): fakes with too little variety look alike to D, so G
	# is pushed to vary them.  A group is `group` consecutive images,
	# because the tape step passes D its real images, then the fakes:
	# with a batch that is a multiple of `group`, no group mixes the two
	def __init__(self, group=MBSTD_GROUP, **kwargs):
		super().__init__(**kwargs)
		self.group = group

	def call(self, inputs):
		x = ops.cast(inputs, "float32")
		height, width, channels = x.shape[1:]
		grouped = ops.reshape(x, (-1, self.group, height, width, channels))
		spread = ops.mean(ops.sqrt(ops.var(grouped, axis=1) + 1e-8),
			axis=(1, 2, 3))  # one number a group
		maps = ops.ones_like(grouped[..., :1]) * ops.reshape(spread,
			(-1, 1, 1, 1, 1))
		maps = ops.reshape(maps, (-1, height, width, 1))
		return ops.cast(ops.concatenate([x, maps], axis=-1),
			self.compute_dtype)

	def compute_output_shape(self, input_shape):
		return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)

	def get_config(self):
		return {**super().get_config(), "group": self.group}


def with_minibatch_stddev(discriminator):
	# not in the tutorial's network (--mbstd): the same discriminator (a
	# Sequential, as the unconditional builders make) with a
	# MinibatchStdDev before its Flatten, where the last convolution's
	# maps (8x8x64 at 32x32) become a vector: 8x8x64 -> 8x8x65.  Its
	# layers are new (the same configurations, fresh weights), as
	# with_spectral_norm's
	layers, inserted = [], False
	for layer in discriminator.layers:
		if isinstance(layer, Flatten) and not inserted:
			layers.append(MinibatchStdDev())
			inserted = True
		layers.append(layer.__class__.from_config(layer.get_config()))
	if not inserted:
		raise ValueError(f"{discriminator.name} has no Flatten layer to put "
			"the minibatch standard deviation before")
	return keras.Sequential([keras.Input(discriminator.input_shape[1:])]
		+ layers, name=discriminator.name)
