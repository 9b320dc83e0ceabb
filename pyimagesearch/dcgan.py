# import the necessary packages
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


def add_dropout(model, rate):
	# not in the tutorial's network: Chollet's tip of dropout in the
	# discriminator after each LeakyReLU (off unless asked for)
	if rate > 0:
		model.add(Dropout(rate))


class DCGAN:
	@staticmethod
	def build_generator(dim, depth, channels=1, inputDim=100,
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
