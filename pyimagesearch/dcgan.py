# import the necessary packages
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
from tensorflow.keras.layers import Reshape
from tensorflow.keras.layers import Embedding
from tensorflow.keras.layers import Concatenate
from tensorflow.keras.layers import Dot
from tensorflow.keras.layers import Add

from .gan.noise import LATENT_DIM  # the generator's input size, 100
# not in the tutorial: the layers its additions below use
from .gan.layers import (BatchStatistics, add_dropout, class_channels,
	class_code)


class DCGAN:
	@staticmethod
	def build_generator(dim, depth, channels=1, inputDim=LATENT_DIM,
		outputDim=512, filters=32):
		# initialize the model along with the input shape to be
		# "channels last" and the channels dimension itself (not in the
		# tutorial: `filters`, the tutorial's 32, scales with --width)
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
		model.add(Conv2DTranspose(filters, (5, 5), strides=(2, 2),
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
	def build_discriminator(width, height, depth, alpha=0.2, dropout=0.0,
		filters=32, units=512):
		# initialize the model along with the input shape to be
		# "channels last" (not in the tutorial: `filters` and `units`,
		# the tutorial's 32 and 512, scale with --width)
		model = Sequential()
		inputShape = (height, width, depth)

		# first set of CONV => RELU layers
		model.add(Input(shape=inputShape))
		model.add(Conv2D(filters, (5, 5), padding="same",
			strides=(2, 2)))  # 28x28xdepth -> 14x14x32
		model.add(LeakyReLU(negative_slope=alpha))
		add_dropout(model, dropout)

		# second set of CONV => RELU layers
		model.add(Conv2D(2 * filters, (5, 5), padding="same",
			strides=(2, 2)))  # 14x14x32 -> 7x7x64
		model.add(LeakyReLU(negative_slope=alpha))
		add_dropout(model, dropout)

		# first (and only) set of FC => RELU layers
		model.add(Flatten())  # 7x7x64 -> 3136
		model.add(Dense(units))
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
		oneHot=False, filters=32):
		# the tutorial's generator with the class as a second input: a
		# learned embedding of the class (or with oneHot, a one-hot
		# vector) is put beside the noise, and the two go through the
		# tutorial's layers (Mirza & Osindero 2014)
		noise = Input(shape=(inputDim,), name="noise")
		label = Input(shape=(1,), dtype="int32", name="label")
		code = class_code(label, numClasses, embedDim, classNames, oneHot)
		trunk = DCGAN.build_generator(dim, depth, channels,
			inputDim + code.shape[-1], outputDim, filters)
		x = Concatenate()([noise, code])  # inputDim + embedDim (or classes)
		return conditional_model(trunk, [noise, label], x,
			"conditional_generator")

	@staticmethod
	def build_conditional_discriminator(width, height, depth, numClasses,
		alpha=0.2, dropout=0.0, oneHot=False, filters=32, units=512):
		# the tutorial's discriminator with a projection of the class
		# (Miyato & Koyama 2018): the score is the tutorial's Dense(1)
		# of the 512 features plus their dot product with a learned
		# embedding of the class, so D judges "real, and of this class".
		# oneHot: keras-io's design instead, the class as one-hot
		# channels beside the image's, and the tutorial's score
		trunk = DCGAN.build_discriminator(width, height,
			depth + (numClasses if oneHot else 0), alpha, dropout, filters,
			units)
		return conditional_discriminator(trunk, (height, width, depth),
			numClasses, oneHot, trunk.layers[-2])

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
		return conditional_model(trunk, [noise, label], x,
			"conditional_generator")

	@staticmethod
	def build_conditional_radford_discriminator(size, depth, numClasses,
		alpha=0.2, dropout=0.0, width=32, kernel=4, batchSize=None,
		oneHot=False):
		# build_radford_discriminator whose 4x4x8w features are scored by
		# Dense(1) plus their projection on the class's embedding; with
		# oneHot, the class as one-hot channels beside the image's and
		# the unconditional score.  (Its projection scores with a Dense(1)
		# of its own, created after the trunk's: kept so that its weights
		# are drawn as they always were)
		trunk = DCGAN.build_radford_discriminator(size,
			depth + (numClasses if oneHot else 0), alpha, dropout, width,
			kernel, batchSize)
		return conditional_discriminator(trunk, (size, size, depth),
			numClasses, oneHot, None if oneHot else Dense(1))


# -- not in the tutorial: how the conditional builders reuse a trunk ------
# (the unconditional builder's layers, called on the class-aware inputs)

def conditional_model(trunk, inputs, x, name):
	# the trunk's layers on `x`, the inputs and the class put together
	for layer in trunk.layers:
		x = layer(x)
	return Model(inputs, x, name=name)


def conditional_discriminator(trunk, shape, numClasses, oneHot, score):
	# oneHot: the class as constant channels beside the image's, through
	# the whole trunk; else (projection) the trunk up to its features,
	# scored by `score` plus their dot product with the class's embedding,
	# through the trunk's SIGMOID
	image = Input(shape=shape, name="image")
	label = Input(shape=(1,), dtype="int32", name="label")
	if oneHot:
		x = Concatenate()([image, class_channels(label, numClasses,
			shape[:2])])
		return conditional_model(trunk, [image, label], x,
			"conditional_discriminator")
	x = image
	for layer in trunk.layers[:-2]:  # up to the flattened features
		x = layer(x)
	scored = score(x)
	embedded = Flatten()(Embedding(numClasses, x.shape[-1])(label))
	projection = Dot(axes=1)([x, embedded])
	x = trunk.layers[-1](Add()([scored, projection]))
	return Model([image, label], x, name="conditional_discriminator")
