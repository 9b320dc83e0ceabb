"""Counting a training step's arithmetic and timing it against the GEMM rate
of the machine it runs on."""
import statistics
import time

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


def layer_flops(layer):
    """Forward multiply-add FLOPs (2 per MAC) of one layer for one sample;
    0 for layers without a weight matrix (activations, BN, reshapes)."""
    if isinstance(layer, layers.Dense):
        return 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    if isinstance(layer, layers.Conv2DTranspose):
        # every input pixel scatters a k x k x C_out patch
        kh, kw, c_out, c_in = layer.kernel.shape
        h_in, w_in = layer.input.shape[1:3]
        return 2 * h_in * w_in * kh * kw * c_in * c_out
    if isinstance(layer, layers.Conv2D):
        kh, kw, c_in, c_out = layer.kernel.shape
        h_out, w_out = layer.output.shape[1:3]
        return 2 * h_out * w_out * kh * kw * c_in * c_out
    return 0


def model_flops(model):
    """(forward FLOPs per sample, FLOPs of the first weighted layer)."""
    per_layer = [f for f in map(layer_flops, model.layers) if f]
    return sum(per_layer), per_layer[0]


def step_flops(generator, discriminator, batch_size):
    """FLOPs of one tutorial step.  Forward F, weight gradients F, input
    gradients F except into the first layer of a chain:
      fakes:   G forward on B                       -> B*Fg
      D step:  D forward + both backwards on 2B      -> 2B*(3Fd - fd1)
      G step:  G and D forward on B, D input grads
               (into its first layer too), G both   -> B*(3Fg - fg1 + 2Fd)
    """
    fg, fg1 = model_flops(generator)
    fd, fd1 = model_flops(discriminator)
    return batch_size * (fg + 2 * (3 * fd - fd1) + 3 * fg - fg1 + 2 * fd)


def gemm_rate(dtype="float32", sizes=(1024, 2048, 4096), repeats=5):
    """This process's best FLOP/s over square matmuls of a few sizes (the
    median of `repeats` timings each): the rate the floor is measured by."""
    matmul = tf.function(lambda x, y: tf.reduce_sum(
        tf.cast(tf.matmul(x, y)[:1, :1], tf.float32)))
    best = 0.0
    for n in sizes:
        a = tf.cast(tf.random.uniform((n, n)), dtype)
        b = tf.cast(tf.random.uniform((n, n)), dtype)
        matmul(a, b).numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            matmul(a, b).numpy()
            times.append(time.perf_counter() - start)
        best = max(best, 2 * n ** 3 / statistics.median(times))
    return best


def time_round_robin(steps, warmup, timed, rounds):
    """Median seconds per call of each step function, timed in interleaved
    rounds so that drift of a noisy machine hits every variant alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples = {name: [] for name in steps}
    per_round = max(1, timed // rounds)
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(per_round):
                start = time.perf_counter()
                step()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def random_real_images(batch_size, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch_size, 28, 28, 1)).astype("float32")
