"""The adversarial losses, one class each with one entry point per model:
`discriminator(outputs, labels)` and `generator(outputs)`, both per image
(the step sums them and divides by the global batch).

Where the sigmoid lives is decided once: the builders keep the tutorial's
public API, a discriminator ending in `Activation("sigmoid")`.  A loss
with `on_logits = True` is given D's logits through `logits_of(D)`, a model
sharing D's layers up to that last activation (no new weights); the
tutorial's binary cross-entropy takes D's probabilities, as Keras'
`binary_crossentropy` string in `compile` does on the `train_on_batch`
path.  A new loss is one class here and its name in LOSSES.  TensorFlow
is imported where a loss is computed: the command line checks a --loss
before TensorFlow starts."""

from .graph import input_of


def _tf():
    import tensorflow as tf
    return tf


def _weighted(logits, labels, real_term, fake_term):
    """Per image: y * real_term(l) + (1 - y) * fake_term(l), y the label
    (1 real, 0 fake, or between with the tips)."""
    tf = _tf()
    logits = tf.reshape(tf.cast(logits, "float32"), (-1,))
    labels = tf.reshape(tf.cast(labels, "float32"), (-1,))
    return labels * real_term(logits) + (1.0 - labels) * fake_term(logits)


class BinaryCrossEntropy:
    """The tutorial's: Keras' binary cross-entropy on D's sigmoid output
    (the string the train_on_batch path compiles with: KERAS_NAME).
    Labels may be smoothed or flipped (the GAN tips)."""
    name = "bce"
    on_logits = False
    KERAS_NAME = "binary_crossentropy"

    def discriminator(self, outputs, labels):
        import keras
        tf = _tf()
        return keras.losses.binary_crossentropy(
            tf.reshape(tf.cast(labels, outputs.dtype), (-1, 1)), outputs)

    def generator(self, outputs):
        import keras
        return keras.losses.binary_crossentropy(_tf().ones_like(outputs),
                                                outputs)


class Logistic:
    """The non-saturating logistic loss on logits (Goodfellow et al. 2014,
    StyleGAN2): D: softplus(-l) on real, softplus(l) on fake; G:
    softplus(-l).  A soft label y weighs the two terms."""
    name = "logistic"
    on_logits = True

    def discriminator(self, logits, labels):
        softplus = _tf().nn.softplus
        return _weighted(logits, labels, lambda real: softplus(-real),
                         softplus)

    def generator(self, logits):
        tf = _tf()
        return tf.nn.softplus(-tf.reshape(tf.cast(logits, "float32"), (-1,)))


class Hinge:
    """The hinge loss on logits (Lim & Ye 2017, SAGAN, BigGAN): D:
    relu(1 - l) on real, relu(1 + l) on fake; G: -l.  A soft label y
    weighs the two terms."""
    name = "hinge"
    on_logits = True

    def discriminator(self, logits, labels):
        relu = _tf().nn.relu
        return _weighted(logits, labels, lambda real: relu(1.0 - real),
                         lambda fake: relu(1.0 + fake))

    def generator(self, logits):
        tf = _tf()
        return -tf.reshape(tf.cast(logits, "float32"), (-1,))


LOSSES = {loss.name: loss for loss in (BinaryCrossEntropy, Logistic, Hinge)}
DEFAULT_LOSS = BinaryCrossEntropy.name


def get_loss(name=DEFAULT_LOSS):
    """The loss named `name` (one of LOSSES), as an object."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: one of {', '.join(LOSSES)}")
    return LOSSES[name]()


def logits_of(discriminator):
    """The one route to D's logits: a model sharing every layer of
    `discriminator` but its last, which must be the builders' sigmoid."""
    import keras
    last = discriminator.layers[-1]
    if not (isinstance(last, keras.layers.Activation)
            and last.get_config()["activation"] == "sigmoid"):
        raise ValueError(f"{discriminator.name} does not end in a sigmoid "
                         f"activation (its last layer is {last.name})")
    inputs = discriminator.inputs
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                       input_of(discriminator.outputs[0],
                                keras.layers.Activation),
                       name=f"{discriminator.name}_logits")
