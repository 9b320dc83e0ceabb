# import the necessary packages
import keras
from keras import ops
from tensorflow.keras.models import Model
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Input
from tensorflow.keras.layers import BatchNormalization
from tensorflow.keras.layers import Conv2DTranspose
from tensorflow.keras.layers import Conv2D
from tensorflow.keras.layers import LeakyReLU
from tensorflow.keras.layers import Activation
from tensorflow.keras.layers import Flatten
from tensorflow.keras.layers import Dense
from tensorflow.keras.layers import Dropout
from tensorflow.keras.layers import Reshape
from tensorflow.keras.layers import Embedding
from tensorflow.keras.layers import Concatenate
from tensorflow.keras.layers import Dot
from tensorflow.keras.layers import Add
from tensorflow.keras.layers import UpSampling2D

from .gan.noise import LATENT_DIM  # the generator's input size, 100


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


class DCGAN:
	@staticmethod
	def build_generator(dim, depth, channels=1, inputDim=LATENT_DIM,
		outputDim=512):
		# initialize the model along with the input shape to be
		# "channels last" and the channels dimension itself
		model = Sequential()
		inputShape = (dim, dim, depth)
		chanDim = -1

		# first set of FC => RELU => BN layers (Keras 3 no longer
		# accepts `Dense(input_dim=...)`, so the input is its own layer)
		model.add(Input(shape=(inputDim,)))
		model.add(Dense(units=outputDim))  # inputDim -> outputDim
		model.add(Activation("relu"))
		model.add(BatchNormalization())

		# second set of FC => RELU => BN layers, this time preparing
		# the number of FC nodes to be reshaped into a volume
		model.add(Dense(dim * dim * depth))  # outputDim -> dim*dim*depth
		model.add(Activation("relu"))
		model.add(BatchNormalization())

		# reshape the output of the previous layer set, upsample +
		# apply a transposed convolution, RELU, and BN
		model.add(Reshape(inputShape))  # 7x7x64 for Fashion-MNIST
		model.add(Conv2DTranspose(32, (5, 5), strides=(2, 2),
			padding="same"))  # 7x7x64 -> 14x14x32
		model.add(Activation("relu"))
		model.add(BatchNormalization(axis=chanDim))

		# apply another upsample and transposed convolution, but
		# this time output the TANH activation
		model.add(Conv2DTranspose(channels, (5, 5), strides=(2, 2),
			padding="same"))  # 14x14x32 -> 28x28xchannels
		model.add(Activation("tanh"))

		# return the generator model
		return model

	@staticmethod
	def build_discriminator(width, height, depth, alpha=0.2, dropout=0.0):
		# initialize the model along with the input shape to be
		# "channels last"
		model = Sequential()
		inputShape = (height, width, depth)

		# first set of CONV => RELU layers
		model.add(Input(shape=inputShape))
		model.add(Conv2D(32, (5, 5), padding="same",
			strides=(2, 2)))  # 28x28xdepth -> 14x14x32
		model.add(LeakyReLU(negative_slope=alpha))
		add_dropout(model, dropout)

		# second set of CONV => RELU layers
		model.add(Conv2D(64, (5, 5), padding="same",
			strides=(2, 2)))  # 14x14x32 -> 7x7x64
		model.add(LeakyReLU(negative_slope=alpha))
		add_dropout(model, dropout)

		# first (and only) set of FC => RELU layers
		model.add(Flatten())  # 7x7x64 -> 3136
		model.add(Dense(512))
		model.add(LeakyReLU(negative_slope=alpha))
		add_dropout(model, dropout)

		# sigmoid layer outputting a single value
		model.add(Dense(1))
		model.add(Activation("sigmoid"))

		# return the discriminator model
		return model

	# -- not in the tutorial: the DCGAN paper's models (--arch radford) ----

	@staticmethod
	def build_radford_generator(size, channels=1, inputDim=LATENT_DIM, width=32,
		kernel=4):
		# Radford et al. 2016: z projected to 4x4x(8 * width), then
		# stride-2 transposed convolutions doubling the size and halving
		# the channels, BN + RELU between, TANH out
		stages = size.bit_length() - 3  # log2(size / 4) upsamplings
		depth = 8 * width
		model = Sequential()
		model.add(Input(shape=(inputDim,)))
		model.add(Dense(4 * 4 * depth))  # inputDim -> 4*4*8w
		model.add(Reshape((4, 4, depth)))
		model.add(BatchNormalization())
		model.add(Activation("relu"))

		# upsample to size/2, halving the channels each time
		for _ in range(stages - 1):
			depth //= 2
			model.add(Conv2DTranspose(depth, (kernel, kernel),
				strides=(2, 2), padding="same", use_bias=False))
			model.add(BatchNormalization())
			model.add(Activation("relu"))

		# the last upsampling outputs the image through a TANH
		model.add(Conv2DTranspose(channels, (kernel, kernel),
			strides=(2, 2), padding="same"))  # size/2 -> size x channels
		model.add(Activation("tanh"))
		return model

	@staticmethod
	def build_radford_discriminator(size, depth, alpha=0.2, dropout=0.0,
		width=32, kernel=4, batchSize=None):
		# the generator's mirror: stride-2 convolutions halving the size
		# and doubling the channels down to 4x4x(8 * width), LeakyReLU
		# 0.2, BN after every convolution but the first, SIGMOID out;
		# the BN normalises each batchSize images (real ones, fake ones)
		# by their own statistics
		stages = size.bit_length() - 3
		channels = 8 * width // 2 ** (stages - 1)
		model = Sequential()
		model.add(Input(shape=(size, size, depth)))
		for stage in range(stages):
			model.add(Conv2D(channels, (kernel, kernel), strides=(2, 2),
				padding="same", use_bias=stage == 0))
			if stage > 0:
				model.add(BatchStatistics(group=batchSize))
			model.add(LeakyReLU(negative_slope=alpha))
			add_dropout(model, dropout)
			channels *= 2

		# 4x4x8w -> one SIGMOID score
		model.add(Flatten())
		model.add(Dense(1))
		model.add(Activation("sigmoid"))
		return model

	# -- not in the tutorial: class-conditional models (--conditional) ----

	@staticmethod
	def build_conditional_generator(dim, depth, numClasses, channels=1,
		inputDim=LATENT_DIM, outputDim=512, embedDim=50, classNames=None,
		oneHot=False):
		# the tutorial's generator with the class as a second input: a
		# learned embedding of the class (or with oneHot, a one-hot
		# vector) is put beside the noise, and the two go through the
		# tutorial's layers (Mirza & Osindero 2014)
		noise = Input(shape=(inputDim,), name="noise")
		label = Input(shape=(1,), dtype="int32", name="label")
		code = class_code(label, numClasses, embedDim, classNames, oneHot)
		x = Concatenate()([noise, code])  # inputDim + embedDim (or classes)

		# first set of FC => RELU => BN layers
		x = Dense(units=outputDim)(x)
		x = Activation("relu")(x)
		x = BatchNormalization()(x)

		# second set of FC => RELU => BN layers, this time preparing
		# the number of FC nodes to be reshaped into a volume
		x = Dense(dim * dim * depth)(x)
		x = Activation("relu")(x)
		x = BatchNormalization()(x)

		# reshape, upsample + apply a transposed convolution, RELU, BN
		x = Reshape((dim, dim, depth))(x)
		x = Conv2DTranspose(32, (5, 5), strides=(2, 2),
			padding="same")(x)  # 7x7x64 -> 14x14x32
		x = Activation("relu")(x)
		x = BatchNormalization(axis=-1)(x)

		# another upsample and transposed convolution, TANH out
		x = Conv2DTranspose(channels, (5, 5), strides=(2, 2),
			padding="same")(x)  # 14x14x32 -> 28x28xchannels
		x = Activation("tanh")(x)
		return Model([noise, label], x, name="conditional_generator")

	@staticmethod
	def build_conditional_discriminator(width, height, depth, numClasses,
		alpha=0.2, dropout=0.0, oneHot=False):
		# the tutorial's discriminator with a projection of the class
		# (Miyato & Koyama 2018): the score is the tutorial's Dense(1)
		# of the 512 features plus their dot product with a learned
		# embedding of the class, so D judges "real, and of this class".
		# oneHot: keras-io's design instead, the class as one-hot
		# channels beside the image's, and the tutorial's score
		image = Input(shape=(height, width, depth), name="image")
		label = Input(shape=(1,), dtype="int32", name="label")
		x = Concatenate()([image, class_channels(label, numClasses,
			(height, width))]) if oneHot else image

		# first set of CONV => RELU layers
		x = Conv2D(32, (5, 5), padding="same",
			strides=(2, 2))(x)  # 28x28x(depth[+classes]) -> 14x14x32
		x = LeakyReLU(negative_slope=alpha)(x)
		x = Dropout(dropout)(x) if dropout > 0 else x

		# second set of CONV => RELU layers
		x = Conv2D(64, (5, 5), padding="same",
			strides=(2, 2))(x)  # 14x14x32 -> 7x7x64
		x = LeakyReLU(negative_slope=alpha)(x)
		x = Dropout(dropout)(x) if dropout > 0 else x

		# first (and only) set of FC => RELU layers
		x = Flatten()(x)  # 7x7x64 -> 3136
		x = Dense(512)(x)
		x = LeakyReLU(negative_slope=alpha)(x)
		features = Dropout(dropout)(x) if dropout > 0 else x

		# the unconditional score plus the class's projection, SIGMOID
		score = Dense(1)(features)
		if not oneHot:
			embedded = Flatten()(Embedding(numClasses, 512)(label))
			projection = Dot(axes=1)([features, embedded])
			score = Add()([score, projection])
		x = Activation("sigmoid")(score)
		return Model([image, label], x, name="conditional_discriminator")

	@staticmethod
	def build_conditional_radford_generator(size, numClasses, channels=1,
		inputDim=LATENT_DIM, width=32, kernel=4, embedDim=50, classNames=None,
		oneHot=False):
		# build_radford_generator with the class embedded (or one-hot)
		# beside the noise
		noise = Input(shape=(inputDim,), name="noise")
		label = Input(shape=(1,), dtype="int32", name="label")
		code = class_code(label, numClasses, embedDim, classNames, oneHot)
		trunk = DCGAN.build_radford_generator(size, channels,
			inputDim + code.shape[-1], width, kernel)
		x = Concatenate()([noise, code])
		for layer in trunk.layers:
			x = layer(x)
		return Model([noise, label], x, name="conditional_generator")

	@staticmethod
	def build_conditional_radford_discriminator(size, depth, numClasses,
		alpha=0.2, dropout=0.0, width=32, kernel=4, batchSize=None,
		oneHot=False):
		# build_radford_discriminator whose 4x4x8w features are scored by
		# Dense(1) plus their projection on the class's embedding; with
		# oneHot, the class as one-hot channels beside the image's and
		# the unconditional score
		image = Input(shape=(size, size, depth), name="image")
		label = Input(shape=(1,), dtype="int32", name="label")
		trunk = DCGAN.build_radford_discriminator(size,
			depth + (numClasses if oneHot else 0), alpha, dropout, width,
			kernel, batchSize)
		if oneHot:
			x = Concatenate()([image, class_channels(label, numClasses,
				(size, size))])
			for layer in trunk.layers:
				x = layer(x)
			return Model([image, label], x,
				name="conditional_discriminator")
		x = image
		for layer in trunk.layers[:-2]:  # up to the flattened features
			x = layer(x)
		score = Dense(1)(x)
		embedded = Flatten()(Embedding(numClasses, x.shape[-1])(label))
		projection = Dot(axes=1)([x, embedded])
		x = Activation("sigmoid")(Add()([score, projection]))
		return Model([image, label], x, name="conditional_discriminator")
