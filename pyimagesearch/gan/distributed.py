"""The tutorial's training step, data parallel under a tf.distribute
strategy (--distribute): every replica takes its share of the global
batch, and the two updates are the same as GANTrainer's on one device.

Keras 3's train_on_batch does not split a batch across replicas (each
would train on the whole of it), so the step here is written out: (1)
D's binary cross-entropy on real and generated images, (2) G's through
the frozen D, each summed over the replica's images and divided by the
global count, so that the optimizers' all-reduce (a sum) gives the
gradient of the mean over the whole batch.  The generator's BatchNorm
layers share their batch statistics across replicas (synchronized), as
one device computes them over the whole batch.

The random numbers are drawn on the host from the same NumPy stream, in
the same order, as GANTrainer draws them, so one distributed step and one
single-device step from the same weights and seed give the same weights
(tests/gan/test_distributed.py).  What differs: D sees its real and
generated images in that order instead of shuffled (only dropout, a tip,
could tell); --augment's and dropout's random draws differ (each replica
draws its own); and --arch radford's discriminator normalises each
replica's real and generated halves on their own."""
import contextlib

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils import shuffle

from ..data.labels import class_column
from ..dcgan import BatchStatistics
from ..errors import WorkerLost
from .trainer import GANTrainer, frozen


def lost_peer(error):
    """Whether a failed step's error is the loss of another worker."""
    return isinstance(error, (tf.errors.UnavailableError,
                              tf.errors.CancelledError,
                              tf.errors.AbortedError)) or \
        "Collective ops is aborted" in error.message


def cause(error):
    """The line of TensorFlow's message that says what happened."""
    lines = [line.strip() for line in error.message.splitlines()]
    aborted = [line[line.index("Collective ops"):] for line in lines
               if "Collective ops is aborted by" in line]
    return (aborted + lines + [type(error).__name__])[0]


class DistributedTrainer(GANTrainer):
    """GANTrainer whose train_step splits the global batch across the
    strategy's replicas.  Build it inside `strategy.scope()`, with the
    models (models.build_trainer does).  `stop_vote`: a callable saying
    whether this process wants to stop (Ctrl-C, SIGTERM); each step
    returns whether any process does, so that all stop after the same
    step (multi-worker)."""

    def __init__(self, strategy, *args, **kwargs):
        self.strategy = strategy
        self.replicas = strategy.num_replicas_in_sync
        super().__init__(*args, **kwargs)
        # the optimizers' slots must be created in the strategy's scope,
        # not by the first apply_gradients inside a replica
        self.build_optimizers()
        self.stop_vote = lambda: False
        self.stop_agreed = False
        self._step = tf.function(self._distributed_step)

    def train_step(self, real_images, real_classes=None):
        """One step of the tutorial's loop on the global batch
        `real_images`; returns (d_loss, g_loss), each the mean over the
        whole batch, as GANTrainer's."""
        batch_size = len(real_images)
        if batch_size % self.replicas:
            raise ValueError(f"a batch of {batch_size} does not split "
                             f"across {self.replicas} replicas")
        host = self._draw(real_images, real_classes)
        share = batch_size // self.replicas

        def replica_inputs(context):
            rows = slice(context.replica_id_in_sync_group * share,
                         (context.replica_id_in_sync_group + 1) * share)
            return {name: tf.convert_to_tensor(values[rows])
                    for name, values in host.items()}

        inputs = self.strategy.experimental_distribute_values_from_function(
            replica_inputs)
        try:
            d_loss, g_loss, stops = self._step(inputs)
        except tf.errors.OpError as e:
            if not (isinstance(self.strategy,
                               tf.distribute.MultiWorkerMirroredStrategy)
                    and lost_peer(e)):
                raise
            raise WorkerLost(
                "a worker of this multi-worker run stopped or cannot be "
                f"reached ({cause(e)}); training stopped") from None
        self.stop_agreed = bool(stops > 0)
        if self.generator_ema is not None:
            self._update_ema()
        return float(d_loss), float(g_loss)

    def _draw(self, real_images, real_classes):
        """The step's host-side inputs, by name, each with the global batch
        first: the random draws in GANTrainer's order (D's noise, the
        fakes' classes, the shuffle, the label noise; G's noise, G's
        classes), D's labels put back in real-then-fake order."""
        batch_size = len(real_images)
        noise = self.sample_noise(batch_size)
        fake_classes = self.sample_classes(batch_size)
        labels = np.array(([1] * batch_size) + ([0] * batch_size))
        if self.mixed_batches:
            # GANTrainer shuffles D's batch, then draws the label noise in
            # the shuffled order: draw the same, then undo the shuffle
            order = shuffle(np.arange(2 * batch_size))
            unshuffled = np.empty(2 * batch_size, dtype="float32")
            unshuffled[order] = self.noisy_labels(labels[order])
            labels = unshuffled
        else:
            labels = self.noisy_labels(labels)
        host = {"real_images": np.asarray(real_images, dtype="float32"),
                "noise": noise,
                "real_labels": np.asarray(labels[:batch_size], "float32"),
                "fake_labels": np.asarray(labels[batch_size:], "float32"),
                "g_noise": self.sample_noise(batch_size),
                "stop": np.full(batch_size, float(self.stop_vote()),
                                dtype="float32")}
        if self.num_classes is not None:
            host.update(real_classes=class_column(real_classes),
                        fake_classes=class_column(fake_classes),
                        g_classes=class_column(
                            self.sample_classes(batch_size)))
        return host

    def _distributed_step(self, inputs):
        # the shapes are known while tracing: the per-replica batch sets
        # how the layers that see batch statistics are laid out
        share = self.strategy.experimental_local_results(
            inputs["real_images"])[0].shape[0]
        with self._replica_layout(share):
            d_loss, g_loss, stop = self.strategy.run(
                self._replica_step, args=(inputs, share * self.replicas))
        total = tf.distribute.ReduceOp.SUM
        return (self.strategy.reduce(total, d_loss, axis=None),
                self.strategy.reduce(total, g_loss, axis=None),
                self.strategy.reduce(total, stop, axis=None))

    def _replica_step(self, batch, global_batch):
        classes = (lambda name: batch[name]) if self.num_classes else (
            lambda name: None)

        def model_inputs(tensor, class_name):
            if self.num_classes is None:
                return tensor
            return [tensor, classes(class_name)]

        # (1) update D on the replica's real images and as many generated
        # ones (as GANTrainer: in inference mode, unless D's BatchNorm
        # wants G's batch statistics)
        fake_images = tf.stop_gradient(self.generator(
            model_inputs(batch["noise"], "fake_classes"),
            training=not self.mixed_batches))
        images = tf.concat([batch["real_images"], fake_images], axis=0)
        labels = tf.concat([batch["real_labels"], batch["fake_labels"]], 0)
        d_inputs = images if self.num_classes is None else [
            images, tf.concat([classes("real_classes"),
                               classes("fake_classes")], axis=0)]
        d_loss = self._update(self.disc_model, d_inputs, labels,
                              self.discriminator.trainable_variables,
                              2 * global_batch)

        # (2) update G through the GAN, D frozen, on "real" labels
        g_inputs = model_inputs(batch["g_noise"], "g_classes")
        misleading_labels = tf.ones_like(batch["fake_labels"])
        with frozen(self.discriminator):
            g_loss = self._update(self.gan, g_inputs, misleading_labels,
                                  self.generator.trainable_variables,
                                  global_batch)
        return d_loss, g_loss, tf.reduce_max(batch["stop"])

    @staticmethod
    def _update(model, inputs, labels, variables, global_count):
        """One optimizer step of `model`'s binary cross-entropy over this
        replica's share; returns the share's part of the global mean."""
        optimizer = model.optimizer
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            per_image = keras.losses.binary_crossentropy(
                tf.reshape(labels, (-1, 1)), predictions)
            loss = tf.reduce_sum(per_image) / global_count
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    @contextlib.contextmanager
    def _replica_layout(self, share):
        """While the step is traced: the generator's BatchNorm layers
        synchronized across replicas, --arch radford's discriminator
        normalising groups of one replica's share, and the random draws
        of --augment and D's dropout different on each replica (their
        seed generators are one mirrored variable: each replica would
        draw the same).  Put back afterwards, so the saved models are the
        single-device ones."""
        layers = self.generator.layers + self.discriminator.layers
        changed = []
        for layer in layers:
            if isinstance(layer, BatchStatistics) and layer.group:
                changed.append((layer, "group", layer.group))
                layer.group = share
            elif isinstance(layer, keras.layers.BatchNormalization):
                changed.append((layer, "synchronized", layer.synchronized))
                layer.synchronized = True
        randomised = [layer for layer in layers + [self.augment]
                      if getattr(layer, "seed_generator", None) is not None]
        try:
            for layer in randomised:
                layer.seed_generator.next = replica_seeds(
                    layer.seed_generator.next)
            yield
        finally:
            for layer, name, value in changed:
                setattr(layer, name, value)
            for layer in randomised:
                # the class's again
                vars(layer.seed_generator).pop("next", None)


def replica_seeds(next_seed):
    """A seed generator's next() that folds in the replica's number."""
    def next_for_replica(ordered=True):
        seed = next_seed(ordered)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.cast(tf.random.experimental.stateless_fold_in(
            tf.cast(seed, "int64"), replica), seed.dtype)
    return next_for_replica
