"""The adversarial training step: (1) update D on real+fake, (2) update G
through the frozen D, with the opt-in GAN tips.  Built for a run by
models.build_trainer; shared by the training script and the benchmark."""
import contextlib
import math
import random

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils import shuffle
from tensorflow.keras.layers import Input
from tensorflow.keras.models import Model
from tensorflow.keras.optimizers import Adam
from tensorflow.keras.optimizers.schedules import InverseTimeDecay

from ..data.labels import class_column
from .augment import DiffAugment
from .losses import BinaryCrossEntropy
from .noise import LATENT_DIM, sample_noise

INIT_LR = 2e-4


def make_optimizer(epochs, learning_rate=INIT_LR):
    """Adam(lr=2e-4, beta_1=0.5, decay=lr/epochs) as the 2020 code meant it:
    Keras 3 dropped `decay`, and lr / (1 + decay * iterations) is exactly
    an InverseTimeDecay with decay_steps=1."""
    schedule = InverseTimeDecay(learning_rate, decay_steps=1,
                                decay_rate=learning_rate / epochs)
    return Adam(learning_rate=schedule, beta_1=0.5)


@contextlib.contextmanager
def frozen(model):
    """Freeze `model` for the duration of the block.

    Keras 3 reads `trainable` when a train function is traced (first call,
    and again on every re-trace for a new input shape or dtype), not at
    compile time.  Freezing D only around the GAN step keeps every trace
    of D's own train function in the trainable state, so D never gets
    frozen for good (the silent failure of the literal 2020 port)."""
    model.trainable = False
    try:
        yield model
    finally:
        model.trainable = True


def compiled_inference(model):
    return tf.function(lambda inputs: model(inputs, training=False),
                       reduce_retracing=True)


def averaged_copy(generator):
    """A second generator starting from the same weights, for the moving
    average.  Cloning draws seeds from Python's random module: its state
    is put back so the run's own random stream is untouched."""
    state = random.getstate()
    try:
        clone = keras.models.clone_model(generator)
    finally:
        random.setstate(state)
    clone.set_weights(generator.get_weights())
    return clone


def ema_update(average, model, decay=None):
    """A compiled `average = decay * average + (1 - decay) * model` over the
    trainable weights (Yazici et al. 2019, "The Unusual Effectiveness of
    Averaging in GAN Training").  BatchNorm's moving statistics are copied
    from the model instead: they are running averages already, and
    averaging them again made early samples much worse and later ones no
    better (docs/TIPS.md).  decay=None: the compiled function takes the
    decay of each update as its argument (--ema-rampup)."""
    averaged = list(zip(average.trainable_variables,
                        model.trainable_variables))
    copied = list(zip(average.non_trainable_variables,
                      model.non_trainable_variables))
    for mine, theirs in averaged + copied:
        assert mine.shape == theirs.shape and mine.name == theirs.name, (
            mine.path, theirs.path)

    @tf.function
    def update():
        for mine, theirs in averaged:
            mine.assign(decay * mine + (1.0 - decay) * theirs)
        for mine, theirs in copied:
            mine.assign(theirs)

    @tf.function
    def update_with(beta):
        for mine, theirs in averaged:
            mine.assign(beta * mine + (1.0 - beta) * theirs)
        for mine, theirs in copied:
            mine.assign(theirs)
    return update if decay is not None else update_with


def ramped_decay(decay, rampup, batch_size, images_shown):
    """StyleGAN2's moving-average ramp (Karras et al. 2020): the average's
    half-life, in images, is that of `decay` at most and `rampup` times the
    images shown so far at first, so early samples are not an average of
    the noise G started from.  Returns the decay of this update."""
    longest = batch_size * math.log(0.5) / math.log(decay)
    half_life = max(min(longest, rampup * images_shown), 1e-8)
    return 0.5 ** (batch_size / half_life)


class GANTrainer:
    """Owns the generator, the discriminator and the combined GAN model,
    and the opt-in GAN tips (all off by default: the tutorial's training).

    noise: "uniform" (the tutorial's) or "normal"; label_smoothing: real
    labels of D become 1 - X; label_noise: a fraction P of D's labels is
    flipped; disc_lr / gan_lr: the two Adams' learning rates; ema: keep
    `generator_ema`, an exponential moving average of G's weights with
    this decay, updated after every step; augment: DiffAugment's policy
    (transform names), applied to every image D sees in both steps;
    mixed_batches=False (--arch radford, BatchNorm in both models, as the
    DCGAN paper's code trains them): D's batch stays real images then
    fakes, unshuffled, for a D whose BatchNorm normalises each half on its
    own, and the fakes come from G in training mode (batch statistics, as
    in G's step), not from its lagging moving statistics; num_classes
    (--conditional): G and D take each image's class as a second input,
    the real images' own and, for the fakes, classes drawn uniformly;
    ema_rampup (with ema): the average's half-life grows with the images
    shown (ramped_decay); ada (with augment, the tape step): the target of
    adaptive augmentation's E[sign(D(real))] (gan/step.py)."""

    # the tape step's --self-supervised decoder, trained with D
    decoder = None

    def __init__(self, generator, discriminator, epochs,
                 latent_dim=LATENT_DIM, shared_optimizer=False,
                 noise="uniform", label_smoothing=0.0, label_noise=0.0,
                 disc_lr=INIT_LR, gan_lr=INIT_LR, ema=None, augment=None,
                 mixed_batches=True, num_classes=None, ema_rampup=None,
                 ada=None):
        self.generator = generator
        self.num_classes = num_classes
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.shared_optimizer = shared_optimizer
        self.noise = noise
        self.mixed_batches = mixed_batches
        self.label_smoothing = label_smoothing
        self.label_noise = label_noise
        disc_opt = make_optimizer(epochs, disc_lr)
        if shared_optimizer:
            # the 2020 code compiled the GAN with D's optimizer; Keras 3
            # accepts that once the optimizer is built on both models'
            # variables.  Its iteration counter then advances twice a step
            gan_opt = disc_opt
            disc_opt.build(discriminator.trainable_variables
                           + generator.trainable_variables)
        else:
            # the text's intent: "an Adam with the same hyper-parameters"
            gan_opt = make_optimizer(epochs, gan_lr)
        # D as its own step trains it: through the augmentation, if any
        self.augment = DiffAugment(augment, adaptive=ada is not None) \
            if augment else None
        self.ada_target = ada
        self.disc_model, self.gan = self.adversarial_models(discriminator)
        self.disc_model.compile(loss=BinaryCrossEntropy.KERAS_NAME,
                                optimizer=disc_opt)
        with frozen(discriminator):
            self.gan.compile(loss=BinaryCrossEntropy.KERAS_NAME,
                             optimizer=gan_opt)
        self._generate = compiled_inference(generator)
        self._generate_training = tf.function(
            lambda inputs: generator(inputs, training=True),
            reduce_retracing=True)
        self.generator_ema = None
        self.ema, self.ema_rampup = ema, ema_rampup
        if ema is not None:
            self.generator_ema = averaged_copy(generator)
            self._generate_ema = compiled_inference(self.generator_ema)
            self._update_ema = ema_update(self.generator_ema, generator,
                                          None if ema_rampup else ema)

    def adversarial_models(self, critic):
        """(D's model, the GAN) around `critic` (D itself, or its logits:
        losses.logits_of): D's model sees an image (and its class) through
        the augmentation, if any; the GAN is G then that, built with D
        frozen, for G's step."""
        disc_model = critic
        if self.augment is not None:
            images = Input(shape=self.generator.output_shape[1:])
            with_class = self._class_input()
            disc_model = Model(with_class(images),
                               critic(with_class(self.augment(images))))
        with frozen(self.discriminator):
            gan_input = Input(shape=(self.latent_dim,))
            with_class = self._class_input()
            fake_images = self.generator(with_class(gan_input))
            if self.augment is not None:
                fake_images = self.augment(fake_images)
            gan = Model(with_class(gan_input),
                        critic(with_class(fake_images)))
        return disc_model, gan

    def _class_input(self):
        """For building one model: `tensor -> [tensor, classes]`, all with
        the model's one class input when conditional; else `tensor`."""
        if self.num_classes is None:
            return lambda tensor: tensor
        classes = Input(shape=(1,), dtype="int32")
        return lambda tensor: [tensor, classes]

    def _inputs(self, noise, classes):
        noise = tf.convert_to_tensor(noise)
        if self.num_classes is None:
            return noise
        return [noise, tf.convert_to_tensor(class_column(classes))]

    def generate(self, noise, ema=False, classes=None):
        """Generator output in inference mode (BN uses moving statistics).
        A compiled call: `model.predict` per batch doubles the step time.
        ema=True: the averaged generator's; `classes`: what a conditional
        generator draws, one class per noise vector."""
        run = self._generate_ema if ema else self._generate
        return run(self._inputs(noise, classes)).numpy()

    def sample_noise(self, count):
        return sample_noise(count, self.latent_dim, self.noise)

    def sample_classes(self, count):
        """Classes for generated images, uniform (conditional runs only:
        an unconditional run draws no random number here)."""
        if self.num_classes is None:
            return None
        return np.random.randint(0, self.num_classes, count)

    def draw(self, batch_size):
        """Every random number of one step, from NumPy's global stream in
        the tutorial's order (D's noise, the fakes' classes, the shuffle of
        D's batch, the label noise; G's noise, G's classes), whichever step
        trains on them: the train_on_batch step here, the tape step
        (gan/step.py) on one device or under a tf.distribute strategy.
        D's labels are in real-then-fake order; `order`, the shuffle (None
        when D's BatchNorm wants the halves apart), is what the
        train_on_batch step trains D's batch in."""
        noise = self.sample_noise(batch_size)
        fake_classes = self.sample_classes(batch_size)
        labels = np.array(([1] * batch_size) + ([0] * batch_size))
        order = None
        if self.mixed_batches:
            # the label noise is drawn in the shuffled order
            order = shuffle(np.arange(2 * batch_size))
            shuffled = self.noisy_labels(labels[order])
            labels = np.empty_like(shuffled)
            labels[order] = shuffled
        else:
            labels = self.noisy_labels(labels)
        g_noise = self.sample_noise(batch_size)
        return {"noise": noise, "fake_classes": fake_classes,
                "order": order, "labels": labels, "g_noise": g_noise,
                "g_classes": self.sample_classes(batch_size)}

    def discriminator_step(self, real_images, real_classes, draws):
        """(1) Update D: real images labelled 1, generated ones 0, shuffled
        together so no batch is all-real then all-fake (unless D's
        BatchNorm wants the halves apart).  Conditional: each image with
        its class."""
        noise, fake_classes = draws["noise"], draws["fake_classes"]
        fake_images = (self.generate(noise, classes=fake_classes)
                       if self.mixed_batches else self._generate_training(
                           self._inputs(noise, fake_classes)).numpy())
        images = np.concatenate((real_images, fake_images))
        order = draws["order"]
        if order is None:
            order = slice(None)
        inputs = images[order]
        if self.num_classes is not None:
            classes = np.concatenate((real_classes, fake_classes))
            inputs = [inputs, class_column(classes[order])]
        return float(self.disc_model.train_on_batch(
            inputs, draws["labels"][order]))

    def noisy_labels(self, labels):
        """Chollet's tip, when asked for: flip a fraction of the labels,
        then soften the real ones.  Off, the labels are left as they are
        and no random number is drawn."""
        if not (self.label_noise or self.label_smoothing):
            return labels
        labels = labels.astype("float32")
        if self.label_noise:
            flip = np.random.random_sample(len(labels)) < self.label_noise
            labels[flip] = 1 - labels[flip]
        labels[labels == 1] = 1 - self.label_smoothing
        return labels

    def generator_step(self, draws):
        """(2) Update G: fresh noise labelled "real", pushed through the
        GAN with D's weights frozen."""
        inputs = self._inputs(draws["g_noise"], draws["g_classes"])
        misleading_labels = np.ones(len(draws["g_noise"]), dtype="int64")
        with frozen(self.discriminator):
            return float(self.gan.train_on_batch(inputs, misleading_labels))

    def train_step(self, real_images, real_classes=None):
        """One step of the tutorial's loop; returns (d_loss, g_loss).
        real_classes: the images' classes, for a conditional trainer."""
        draws = self.draw(len(real_images))
        d_loss = self.discriminator_step(real_images, real_classes, draws)
        g_loss = self.generator_step(draws)
        self.update_average(len(real_images))
        return d_loss, g_loss

    def steps_done(self):
        """Training steps done so far (D's optimizer's count, which the
        checkpoint holds; a shared Adam counts both updates)."""
        iterations = int(self.disc_model.optimizer.iterations.numpy())
        return iterations // 2 if self.shared_optimizer else iterations

    def update_average(self, batch_size):
        """The moving average's update after a step (--ema), its decay
        ramped with --ema-rampup."""
        if self.generator_ema is None:
            return
        if not self.ema_rampup:
            self._update_ema()
            return
        # the images shown before this step, as StyleGAN2 counts: the
        # first update copies G
        beta = ramped_decay(self.ema, self.ema_rampup, batch_size,
                            (self.steps_done() - 1) * batch_size)
        self._update_ema(tf.constant(beta, "float32"))

    def disc_variables(self):
        """What D's optimizer trains: D's weights (and the decoder's)."""
        variables = list(self.discriminator.trainable_variables)
        if self.decoder is not None:
            variables += self.decoder.trainable_variables
        return variables

    def build_optimizers(self):
        """Create the optimizers' slots now (as the first step would), so
        that a checkpoint's optimizer state can be loaded before training."""
        disc_opt = self.disc_model.optimizer
        if not disc_opt.built:
            disc_opt.build(self.disc_variables())
        with frozen(self.discriminator):
            if not self.gan.optimizer.built:
                self.gan.optimizer.build(self.gan.trainable_variables)
