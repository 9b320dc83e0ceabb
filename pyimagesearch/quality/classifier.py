"""A small Fashion-MNIST classifier whose penultimate features stand in for
Inception's in FID/KID (Inception weights need the internet; these ship in
the package).  Images are in [-1, 1], as the generator makes them."""
import os

import numpy as np
from tensorflow.keras import layers, models

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "weights")
WEIGHTS = os.path.join(WEIGHTS_DIR, "fashion_classifier.weights.h5")
CARD = os.path.join(WEIGHTS_DIR, "fashion_classifier.json")
FEATURES_LAYER = "features"


def build_classifier():
    def conv_block(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x)

    inputs = layers.Input(shape=(28, 28, 1))
    x = conv_block(conv_block(inputs, 32), 32)          # 28x28x32
    x = layers.MaxPooling2D()(x)                        # -> 14x14x32
    x = conv_block(conv_block(x, 64), 64)               # 14x14x64
    x = layers.MaxPooling2D()(x)                        # -> 7x7x64
    x = conv_block(x, 128)                              # 7x7x128
    x = layers.GlobalAveragePooling2D()(x)              # -> 128
    x = layers.Dropout(0.3)(x)
    features = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3)(features)
    outputs = layers.Dense(10, activation="softmax", name="classes")(x)
    return models.Model(inputs, outputs, name="fashion_classifier")


class FeatureExtractor:
    """Penultimate features and class predictions from the shipped weights."""

    def __init__(self, weights=WEIGHTS):
        self.model = build_classifier()
        self.model.load_weights(weights)
        self.both = models.Model(
            self.model.input,
            [self.model.get_layer(FEATURES_LAYER).output, self.model.output])

    def __call__(self, images, batch_size=500):
        """(features (N, 128), predicted class (N,)) for images in [-1, 1]."""
        features, classes = [], []
        for start in range(0, len(images), batch_size):
            f, p = self.both.predict_on_batch(
                np.asarray(images[start:start + batch_size], "float32"))
            features.append(np.asarray(f, "float64"))
            classes.append(np.argmax(p, axis=1))
        return np.concatenate(features), np.concatenate(classes)
