"""The training step written once with GradientTape: (1) D's update on
real and generated images, (2) G's through the frozen D, compiled with
tf.function.  It runs on one device (--step tape) and, unchanged, on each
replica of a tf.distribute strategy (gan/distributed.py, --distribute).

The random numbers are GANTrainer.draw's, on the host, in the tutorial's
order, so from the same weights and seed one tape step and one
train_on_batch step agree to float tolerance (tests/gan/test_step.py).
What differs from train_on_batch: D sees its real and generated images in
that order instead of shuffled, which changes nothing unless something
random is drawn per image (dropout, a tip; --augment's transforms, which
then fall on other images), and the loss may be any of gan/losses.py's,
on D's probabilities or its logits.

Each update's loss is the sum over this replica's images divided by the
global count, so that the optimizers' all-reduce (a sum) gives the
gradient of the mean over the whole batch; on one device that is the
mean.

--r1 GAMMA adds the R1 penalty (Mescheder et al. 2018), gamma/2 times the
squared gradient of D's logit with respect to each real image, lazily as
StyleGAN2 does: every R1_INTERVAL-th D step, weighted by the interval.

--self-supervised adds to D's loss the mean squared error of a small
decoder's reconstruction of each real image D sees from D's features
(gan/decoder.py); the decoder is trained with D, by D's optimizer."""
import numpy as np
import tensorflow as tf
from tensorflow.keras.layers import Input
from tensorflow.keras.models import Model

from ..data.labels import class_column
from .decoder import build_decoder, reconstruction_error, with_features
from .losses import get_loss, logits_of
from .trainer import GANTrainer, frozen

# the lazy R1 penalty's period, in D steps (StyleGAN2's)
R1_INTERVAL = 16
# adaptive augmentation (ADA): p moves every ADA_INTERVAL steps, by as
# much as takes it from 0 to 1 in ADA_KIMG thousand images (StyleGAN2-ADA
# adjusts every 4 steps; its default speed is 500 kimg, 100 its faster
# setting, which suits runs of a few hundred kimg)
ADA_INTERVAL = 4
ADA_KIMG = 100


class TapeTrainer(GANTrainer):
    """GANTrainer whose train_step is the tape step.  loss: a name of
    losses.LOSSES (the tutorial's binary cross-entropy by default); r1:
    the R1 penalty's gamma (None: none); xla: the step compiled by XLA;
    self_supervised: D also trains `decoder` to rebuild the real images
    from its features (unconditional runs)."""

    replicas = 1

    def __init__(self, *args, loss=None, r1=None, xla=False,
                 self_supervised=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss = get_loss(loss) if loss else get_loss()
        # the models the loss is computed on: D's (and the GAN's) sigmoid
        # output for the tutorial's loss, else D's logits
        self.critic_model, self.critic_gan = self.disc_model, self.gan
        if self.loss.on_logits:
            self.critic_model, self.critic_gan = self.adversarial_models(
                logits_of(self.discriminator))
        self.r1 = r1
        if r1:
            # R1 is on D's logit, whatever the loss takes
            self.logit_model = self.critic_model if self.loss.on_logits \
                else self.adversarial_models(logits_of(self.discriminator))[0]
        if self_supervised:
            scored = with_features(self.discriminator, self.loss.on_logits)
            self.decoder = build_decoder(scored.outputs[1].shape[1:],
                                         self.generator.output_shape[-1])
            self.critic_model = self.reconstructing_model(scored)
        self._step = tf.function(self.device_step, jit_compile=xla or None)

    def train_step(self, real_images, real_classes=None):
        """One step of the tutorial's loop on the batch `real_images`;
        returns (d_loss, g_loss), each the mean over the batch."""
        host = self.step_inputs(real_images, real_classes)
        results = self.run_step(host, self.regularize_now())
        self.update_average(len(real_images))
        if self.ada_target is not None:     # one device: D's signs third
            self.adapt_augmentation(float(results[2]), len(real_images))
        return float(results[0]), float(results[1])

    def adapt_augmentation(self, real_signs, batch_size):
        """ADA's heuristic: every ADA_INTERVAL steps, raise p if D's mean
        sign on real images, r_t = E[sign(D(real))], is above the target
        (D is overfitting), else lower it; p stays in [0, 1]."""
        augment = self.augment
        augment.real_signs.assign(augment.real_signs + real_signs)
        if self.steps_done() % ADA_INTERVAL:
            return
        r_t = float(augment.real_signs) / (ADA_INTERVAL * batch_size)
        step = ADA_INTERVAL * batch_size / (ADA_KIMG * 1000)
        p = float(augment.probability) + np.sign(r_t - self.ada_target) * step
        augment.probability.assign(float(np.clip(p, 0.0, 1.0)))
        augment.real_signs.assign(0.0)

    def reconstructing_model(self, scored):
        """D's model for its update with --self-supervised: an image
        (through the augmentation, if any) to [D's score, D's features,
        the image D saw]; `scored`: D giving its score and its features
        (decoder.with_features).  The decoder runs on the real images'
        features alone, in reconstruction_penalty."""
        images = Input(shape=self.generator.output_shape[1:])
        seen = self.augment(images) if self.augment is not None else images
        score, features = scored(seen)
        return Model(images, [score, features, seen])

    def regularize_now(self):
        """Whether this step's D update carries the lazy R1 penalty."""
        return bool(self.r1) and self.steps_done() % R1_INTERVAL == 0

    def run_step(self, host, regularize=False):
        """The compiled step on the host's inputs (one device: the whole
        batch as tensors); `regularize`: with the R1 penalty (a Python
        bool: one trace with it, one without)."""
        return self._step({name: tf.convert_to_tensor(values)
                           for name, values in host.items()}, regularize)

    def step_inputs(self, real_images, real_classes):
        """The step's inputs, by name, each with the batch first: the real
        images (and classes), and GANTrainer.draw's random draws with D's
        labels in real-then-fake order."""
        batch_size = len(real_images)
        draws = self.draw(batch_size)
        labels = np.asarray(draws["labels"], dtype="float32")
        host = {"real_images": np.asarray(real_images, dtype="float32"),
                "noise": draws["noise"],
                "real_labels": labels[:batch_size],
                "fake_labels": labels[batch_size:],
                "g_noise": draws["g_noise"]}
        if self.num_classes is not None:
            host.update(real_classes=class_column(real_classes),
                        fake_classes=class_column(draws["fake_classes"]),
                        g_classes=class_column(draws["g_classes"]))
        return host

    def device_step(self, batch, regularize=False):
        """(d_loss, g_loss) of one step on this device's `batch`."""
        return self.replica_step(batch, tf.shape(batch["noise"])[0],
                                 regularize)

    def replica_step(self, batch, global_batch, regularize=False):
        """The two updates on one replica's share of the batch; the losses
        returned are the share's parts of the global means (D's without
        the R1 penalty), then the sum of the signs of D's logits on the
        share's real images (for --ada)."""
        def model_inputs(tensor, class_name):
            if self.num_classes is None:
                return tensor
            return [tensor, batch[class_name]]

        # (1) update D on the real images and as many generated ones (in
        # inference mode, as the tutorial; in training mode when D's
        # BatchNorm wants G's batch statistics)
        fake_images = tf.stop_gradient(self.generator(
            model_inputs(batch["noise"], "fake_classes"),
            training=not self.mixed_batches))
        images = tf.concat([batch["real_images"],
                            tf.cast(fake_images, "float32")], axis=0)
        labels = tf.concat([batch["real_labels"], batch["fake_labels"]], 0)
        d_inputs = images if self.num_classes is None else [
            images, tf.concat([batch["real_classes"],
                               batch["fake_classes"]], axis=0)]
        real_count = tf.shape(batch["real_images"])[0]
        penalties = []
        if regularize:
            penalties.append(lambda outputs: self.r1_penalty(
                model_inputs(batch["real_images"], "real_classes"),
                global_batch))
        if self.decoder is not None:
            penalties.append(lambda outputs: self.reconstruction_penalty(
                outputs, real_count, global_batch))
        d_loss, d_outputs = self._update(
            self.critic_model, self.disc_model.optimizer, d_inputs,
            lambda outputs: self.loss.discriminator(
                self.scores(outputs), labels),
            self.disc_variables(), 2 * global_batch, penalties)
        real_outputs = tf.cast(self.scores(d_outputs)[:real_count],
                               "float32")
        # a probability's sign is that of its logit
        real_signs = tf.reduce_sum(tf.sign(
            real_outputs if self.loss.on_logits else real_outputs - 0.5))

        # (2) update G through the GAN, D frozen
        g_inputs = model_inputs(batch["g_noise"], "g_classes")
        with frozen(self.discriminator):
            g_loss, _ = self._update(self.critic_gan, self.gan.optimizer,
                                     g_inputs, self.loss.generator,
                                     self.generator.trainable_variables,
                                     global_batch)
        return d_loss, g_loss, real_signs

    def scores(self, outputs):
        """D's scores among its model's outputs (with --self-supervised,
        its features and the images it saw follow)."""
        return outputs[0] if self.decoder is not None else outputs

    def reconstruction_penalty(self, outputs, real_count, global_batch):
        """This replica's part of the self-supervised loss: the decoder's
        error on each real image D saw, rebuilt from D's features of it,
        summed and divided by the global batch (the fakes are not
        rebuilt)."""
        _, features, seen = outputs
        reconstructions = self.decoder(features[:real_count], training=True)
        errors = reconstruction_error(reconstructions, seen[:real_count])
        return tf.reduce_sum(errors) / tf.cast(global_batch, "float32")

    def r1_penalty(self, real_inputs, global_batch):
        """This replica's part of the lazy R1 penalty: gamma/2 times the
        squared norm of the gradient of D's logit at each real image,
        times R1_INTERVAL, summed and divided by the global batch."""
        real_images = real_inputs[0] if isinstance(real_inputs, list) \
            else real_inputs
        with tf.GradientTape() as tape:
            tape.watch(real_images)
            logits = self.logit_model(real_inputs, training=True)
            total = tf.reduce_sum(tf.cast(logits, "float32"))
        gradients = tape.gradient(total, real_images)
        squared = tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])
        weight = 0.5 * self.r1 * R1_INTERVAL
        return weight * tf.reduce_sum(squared) / tf.cast(global_batch,
                                                         "float32")

    @staticmethod
    def _update(model, optimizer, inputs, loss_of, variables,
                global_count, penalties=()):
        """One step of `optimizer` on `model`'s loss over this replica's
        share (plus each of `penalties`, a function of the model's
        outputs); returns the share's part of the global mean of the loss,
        and the model's outputs."""
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.reduce_sum(loss_of(outputs)) / tf.cast(
                global_count, "float32")
            total = loss
            for penalty in penalties:
                total = total + penalty(outputs)
            scaled = optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss, outputs
