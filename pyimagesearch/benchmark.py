"""Counting a training step's arithmetic and timing it against the GEMM rate
of the machine it runs on."""
import collections
import statistics
import time

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """'AMD EPYC (family 25, model 1)': the name alone often hides the
    generation, and timings differ threefold between generations."""
    fields = {}
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return None
    name = fields.get("model name")
    if name and "cpu family" in fields:
        name += (f" (family {fields['cpu family']}, "
                 f"model {fields.get('model')})")
    return name


def layer_gemm(layer):
    """(rows per sample, K, N) of the matrix product a layer's forward pass
    comes down to (im2col for convolutions), or None for layers without a
    weight matrix (activations, BN, reshapes).  A layer under
    SpectralNormalization (--spectral-norm) counts as the layer it wraps
    (its power iteration is a few matrix-vector products)."""
    inner = layer.layer if isinstance(layer, layers.SpectralNormalization) \
        else layer
    if isinstance(inner, layers.Dense):
        return 1, inner.kernel.shape[0], inner.kernel.shape[1]
    if isinstance(inner, layers.Conv2DTranspose):
        # every input pixel scatters a k x k x C_out patch
        kh, kw, c_out, c_in = inner.kernel.shape
        h_in, w_in = layer.input.shape[1:3]
        return h_in * w_in, c_in, kh * kw * c_out
    if isinstance(inner, layers.Conv2D):
        kh, kw, c_in, c_out = inner.kernel.shape
        h_out, w_out = layer.output.shape[1:3]
        return h_out * w_out, kh * kw * c_in, c_out
    return None


def model_gemms(model):
    return [gemm for gemm in map(layer_gemm, model.layers) if gemm]


def step_gemms(generator, discriminator, batch_size, decoder=None):
    """Every matrix product of one tutorial step, as a Counter of
    (M, K, N, transpose_a) -> calls.  A layer's forward product Y = X W
    (M x K times K x N) has two backward ones: input gradients dY W^T
    (M x N times N x K) and weight gradients X^T dY (K x M times M x N);
    input gradients stop at the first layer of a chain:
      fakes:   G forward on B
      D step:  D forward, weight and input gradients on 2B
      G step:  G forward, weight and input gradients on B; D forward and
               input gradients (into its first layer too) on B
      decoder (--self-supervised): forward, weight and input gradients
               (into D's features) on the B real images
    """
    calls = collections.Counter()
    G, D = model_gemms(generator), model_gemms(discriminator)

    def forward(gemms, batch):
        for rows, k, n in gemms:
            calls[(batch * rows, k, n, False)] += 1

    def weight_grads(gemms, batch):
        for rows, k, n in gemms:
            calls[(k, batch * rows, n, True)] += 1

    def input_grads(gemms, batch, into_first):
        for rows, k, n in gemms[0 if into_first else 1:]:
            calls[(batch * rows, n, k, False)] += 1

    B = batch_size
    forward(G, B)
    forward(D, 2 * B), weight_grads(D, 2 * B), input_grads(D, 2 * B, False)
    forward(G, B), weight_grads(G, B), input_grads(G, B, False)
    forward(D, B), input_grads(D, B, True)
    if decoder is not None:
        decoded = model_gemms(decoder)
        forward(decoded, B), weight_grads(decoded, B)
        input_grads(decoded, B, True)
    return calls


def step_flops(generator, discriminator, batch_size, decoder=None):
    """FLOPs of one tutorial step (2 per multiply-add of its products)."""
    return sum(2 * m * k * n * count for (m, k, n, _), count in
               step_gemms(generator, discriminator, batch_size,
                          decoder).items())


def _matmul_timer(dtype):
    """Seconds of one TensorFlow product of the given shape: the median of
    `repeats` compiled calls, each waiting for its result."""
    matmul = tf.function(lambda x, y, transpose_a: tf.reduce_sum(
        tf.cast(tf.matmul(x, y, transpose_a=transpose_a)[:1, :1],
                tf.float32)), reduce_retracing=True)

    def seconds(m, k, n, transpose_a=False, repeats=5):
        a = tf.cast(tf.random.uniform((k, m) if transpose_a else (m, k)),
                    dtype)
        b = tf.cast(tf.random.uniform((k, n)), dtype)
        matmul(a, b, transpose_a).numpy()
        return median_seconds(lambda: matmul(a, b, transpose_a).numpy(),
                              repeats)
    return seconds


def median_seconds(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(dtype="float32", sizes=(1024, 2048, 4096), repeats=5):
    """This process's best FLOP/s over TensorFlow square matmuls of a few
    sizes (the median of `repeats` timings each): the rate the floor is
    measured by."""
    seconds = _matmul_timer(dtype)
    return max(2 * n ** 3 / seconds(n, n, n, repeats=repeats)
               for n in sizes)


def numpy_gemm_rate(sizes=(1024, 2048, 4096), repeats=5):
    """The same for NumPy's matmul (the BLAS bundled with NumPy), for
    reference: a floor computed from it is a different, slower machine."""
    best = 0.0
    for n in sizes:
        a = np.random.default_rng(0).random((n, n), dtype=np.float32)
        a @ a
        best = max(best, 2 * n ** 3 / median_seconds(lambda: a @ a, repeats))
    return best


def products_time(gemms, dtype="float32", repeats=5):
    """Seconds the step's products take as plain TensorFlow matmuls at
    their own shapes, each timed alone, less the cost of a call (measured
    on an 8x8x8 product); what the arithmetic of the step costs on this
    machine's GEMM kernels before activations, BN, Adam and im2col."""
    seconds = _matmul_timer(dtype)
    per_call = seconds(8, 8, 8, repeats=max(20, 4 * repeats))
    return sum(max(0.0, seconds(*shape, repeats=repeats) - per_call) * count
               for shape, count in gemms.items())


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
    return {name: statistics.median(values)
            for name, values in samples.items()}


def random_real_images(batch_size, size=28, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch_size, size, size, channels)
                       ).astype("float32")
