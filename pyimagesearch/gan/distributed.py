"""The tape step (gan/step.py) data parallel under a tf.distribute
strategy (--distribute): every replica takes its share of the global
batch and runs the same step as one device does.

Keras 3's train_on_batch does not split a batch across replicas (each
would train on the whole of it), so --distribute always trains with the
tape step.  The generator's BatchNorm layers share their batch statistics
across replicas (synchronized), as one device computes them over the
whole batch.  The random numbers are drawn on the host as on one device,
so two distributed steps and two single-device steps from the same weights
and seed give the same weights (tests/gan/test_distributed.py).  What
differs: --augment's and dropout's random draws (each replica draws its
own), and --arch radford's discriminator normalises each replica's real
and generated halves on their own."""
import contextlib

import keras
import numpy as np
import tensorflow as tf

from .layers import BatchStatistics
from ..errors import WorkerLost
from .step import TapeTrainer


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


class DistributedTrainer(TapeTrainer):
    """The tape step with the global batch split across the strategy's
    replicas.  Build it inside `strategy.scope()`, with the models
    (models.build_trainer does).  `stop_vote`: a callable saying whether
    this process wants to stop (Ctrl-C, SIGTERM); each step returns
    whether any process does, so that all stop after the same step
    (multi-worker)."""

    def __init__(self, strategy, *args, **kwargs):
        self.strategy = strategy
        self.replicas = strategy.num_replicas_in_sync
        super().__init__(*args, **kwargs)
        # the optimizers' slots must be created in the strategy's scope,
        # not by the first apply_gradients inside a replica
        self.build_optimizers()
        self.stop_vote = lambda: False
        self.stop_agreed = False

    def step_inputs(self, real_images, real_classes):
        if len(real_images) % self.replicas:
            raise ValueError(f"a batch of {len(real_images)} does not split "
                             f"across {self.replicas} replicas")
        host = super().step_inputs(real_images, real_classes)
        host["stop"] = np.full(len(real_images), float(self.stop_vote()),
                               dtype="float32")
        return host

    def run_step(self, host, regularize=False):
        """The step on each replica's rows of the host's inputs; notes
        whether any process voted to stop."""
        share = len(host["noise"]) // self.replicas

        def replica_inputs(context):
            rows = slice(context.replica_id_in_sync_group * share,
                         (context.replica_id_in_sync_group + 1) * share)
            return {name: tf.convert_to_tensor(values[rows])
                    for name, values in host.items()}

        inputs = self.strategy.experimental_distribute_values_from_function(
            replica_inputs)
        try:
            d_loss, g_loss, stops = self._step(inputs, regularize)
        except tf.errors.OpError as e:
            if not (isinstance(self.strategy,
                               tf.distribute.MultiWorkerMirroredStrategy)
                    and lost_peer(e)):
                raise
            raise WorkerLost(
                "a worker of this multi-worker run stopped or cannot be "
                f"reached ({cause(e)}); training stopped") from None
        self.stop_agreed = bool(stops > 0)
        return d_loss, g_loss

    def device_step(self, inputs, regularize=False):
        # the shapes are known while tracing: the per-replica batch sets
        # how the layers that see batch statistics are laid out
        share = self.strategy.experimental_local_results(
            inputs["real_images"])[0].shape[0]
        with self._replica_layout(share):
            d_loss, g_loss, stop = self.strategy.run(
                self._voting_step,
                args=(inputs, share * self.replicas, regularize))
        total = tf.distribute.ReduceOp.SUM
        return (self.strategy.reduce(total, d_loss, axis=None),
                self.strategy.reduce(total, g_loss, axis=None),
                self.strategy.reduce(total, stop, axis=None))

    def _voting_step(self, batch, global_batch, regularize):
        d_loss, g_loss = self.replica_step(batch, global_batch,
                                           regularize)[:2]
        return d_loss, g_loss, tf.reduce_max(batch["stop"])

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
