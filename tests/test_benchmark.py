"""The benchmark's arithmetic: the step's FLOPs and matrix products counted
from the tutorial's layers, checked against numbers worked out by hand."""
import numpy as np
import pytest

from pyimagesearch import benchmark
from pyimagesearch.benchmark import (numpy_gemm_rate, products_time,
                                     step_flops, step_gemms)
from pyimagesearch.dcgan import DCGAN

# forward FLOPs per sample (2 per multiply-add), layer by layer
G_DENSE_1 = 2 * 100 * 512                    # 100 -> 512
G_DENSE_2 = 2 * 512 * 7 * 7 * 64             # 512 -> 7x7x64
G_CONVT_1 = 2 * 7 * 7 * 64 * 5 * 5 * 32      # 7x7x64 -> 14x14x32
G_CONVT_2 = 2 * 14 * 14 * 32 * 5 * 5 * 1     # 14x14x32 -> 28x28x1
D_CONV_1 = 2 * 14 * 14 * 5 * 5 * 1 * 32      # 28x28x1 -> 14x14x32
D_CONV_2 = 2 * 7 * 7 * 5 * 5 * 32 * 64       # 14x14x32 -> 7x7x64
D_DENSE_1 = 2 * 3136 * 512
D_DENSE_2 = 2 * 512 * 1


@pytest.fixture(scope="module")
def models():
    return (DCGAN.build_generator(7, 64, channels=1),
            DCGAN.build_discriminator(28, 28, 1))


def test_step_flops_match_the_hand_count(models):
    fg = G_DENSE_1 + G_DENSE_2 + G_CONVT_1 + G_CONVT_2
    fd = D_CONV_1 + D_CONV_2 + D_DENSE_1 + D_DENSE_2
    # fakes: G forward; D step on 2B: forward, weight grads, input grads
    # but into conv 1; G step: G forward + weight grads + input grads but
    # into its first Dense, D forward + input grads all the way down
    per_sample = (fg + 2 * (3 * fd - D_CONV_1)
                  + (3 * fg - G_DENSE_1) + 2 * fd)
    assert step_flops(*models, 128) == 128 * per_sample == 13_081_313_280


def test_the_recipe_s_discriminators_count_their_wrapped_layers(models):
    from pyimagesearch.gan.layers import (with_minibatch_stddev,
                                          with_spectral_norm)
    generator, discriminator = models
    plain = step_flops(generator, discriminator, 128)
    # spectral normalisation wraps each layer: the same products
    assert step_flops(generator, with_spectral_norm(discriminator), 128) \
        == plain
    # --mbstd's one more map: D's dense layer takes 7x7 more inputs, in
    # each of its forward, weight- and input-gradient products (D's step
    # on 2B, G's step on B, no weight gradients there)
    extra = 2 * 7 * 7 * 512 * 128 * (2 * 3 + 2)
    assert step_flops(generator, with_minibatch_stddev(discriminator),
                      128) == plain + extra


def test_the_self_supervised_decoder_adds_its_products_on_the_reals(
        models):
    from pyimagesearch.gan.decoder import build_decoder
    generator, discriminator = models
    plain = step_flops(generator, discriminator, 128)
    # 7x7x64 features: 14x14 pixels of 3x3x64 -> 32, 28x28 of 3x3x32 ->
    # 16, 28x28 of 3x3x16 -> 1; each forward, weight and input gradients
    # (into D's features too) on the 128 real images
    decoder = build_decoder((7, 7, 64), 1)
    forward = 2 * (14 * 14 * 576 * 32 + 28 * 28 * 288 * 16
                   + 28 * 28 * 144 * 1)
    assert step_flops(generator, discriminator, 128, decoder) == \
        plain + 128 * 3 * forward


def test_step_gemms_lists_each_product_with_its_calls(models):
    calls = step_gemms(*models, 128)
    assert sum(calls.values()) == 34
    # D's first conv as im2col: (B*14*14 pixels) x (5*5*1) x 32
    assert calls[(256 * 196, 25, 32, False)] == 1       # forward, D step
    assert calls[(25, 256 * 196, 32, True)] == 1        # its weight grads
    assert (256 * 196, 32, 25, False) not in calls      # no grads into X
    # the same shape: D's conv 1 input grads in G's step (into G's image)
    # and G's last ConvT forward in the fakes and in G's step
    assert calls[(128 * 196, 32, 25, False)] == 3
    # G's first ConvT: each of 7x7 inputs scatters a 5x5x32 patch
    # (fakes + G step), and the same shape as D's conv 2 input grads
    assert calls[(128 * 49, 64, 800, False)] == 3
    # D's big Dense forward at 2B; at B it shares its shape with the
    # input grads of G's big Dense
    assert calls[(256, 3136, 512, False)] == 1
    assert calls[(128, 3136, 512, False)] == 2
    assert (128, 512, 100, False) not in calls          # noise gets no grads


class FakeClock:
    """time.perf_counter for the benchmark module: each call returns the
    next of the given readings, so every timing is known exactly."""

    def __init__(self, readings):
        self.readings = iter(readings)

    def perf_counter(self):
        return next(self.readings)


def clock_of(durations):
    """Readings that make consecutive start/stop pairs last `durations`."""
    readings, now = [], 100.0
    for seconds in durations:
        readings += [now, now + seconds]
        now += seconds + 1.0
    return FakeClock(readings)


def test_products_time_is_zero_for_nothing_and_positive_for_work(
        monkeypatch):
    assert products_time({}) == 0
    seconds = products_time({(512, 512, 512, False): 3}, repeats=3)
    assert np.isfinite(seconds) and seconds > 0

    # with known product times: each product's time less the cost of a call
    # (an 8x8x8 product), times its count; none below zero
    times = {(8, 8, 8, False): 0.001, (64, 32, 16, False): 0.004,
             (32, 64, 16, True): 0.0025, (4, 4, 4, False): 0.0004}
    asked = []

    def fake_timer(dtype):
        def seconds(m, k, n, transpose_a=False, repeats=5):
            asked.append((dtype, (m, k, n, transpose_a), repeats))
            return times[(m, k, n, transpose_a)]
        return seconds

    monkeypatch.setattr(benchmark, "_matmul_timer", fake_timer)
    gemms = {(64, 32, 16, False): 3, (32, 64, 16, True): 2,
             (4, 4, 4, False): 5}
    assert products_time(gemms, "bfloat16", repeats=7) == pytest.approx(
        3 * 0.003 + 2 * 0.0015 + 5 * 0.0, rel=1e-9)
    assert asked[0] == ("bfloat16", (8, 8, 8, False), 28)
    assert sorted(asked[1:]) == sorted(("bfloat16", shape, 7)
                                       for shape in gemms)
    assert products_time({(8, 8, 8, False): 4}) == 0


def test_numpy_gemm_rate_is_a_rate(monkeypatch):
    rate = numpy_gemm_rate(sizes=(256,), repeats=3)
    assert 1e8 < rate < 1e13

    # with a clock that makes each product's time known: 2 n^3 FLOPs over
    # the median of the repeats, the best over the sizes
    products = []
    real_median = benchmark.median_seconds

    def counting_median(call, repeats):
        def product():
            products.append(call().shape)
        return real_median(product, repeats)

    monkeypatch.setattr(benchmark, "median_seconds", counting_median)
    monkeypatch.setattr(benchmark, "time", clock_of(
        [0.004, 0.001, 0.002,          # n = 32: median 2 ms
         0.020, 0.010, 0.030]))        # n = 64: median 20 ms
    assert numpy_gemm_rate(sizes=(32, 64), repeats=3) == pytest.approx(
        2 * 32 ** 3 / 0.002, rel=1e-9)
    assert products == [(32, 32)] * 3 + [(64, 64)] * 3
    monkeypatch.setattr(benchmark, "time", clock_of(
        [0.002, 0.002, 0.002, 0.010, 0.010, 0.010]))
    assert numpy_gemm_rate(sizes=(32, 64), repeats=3) == pytest.approx(
        2 * 64 ** 3 / 0.010, rel=1e-9)


def test_cpu_model_names_the_generation(tmp_path):
    from pyimagesearch.benchmark import cpu_model
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                    "cpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
                    "processor\t: 1\ncpu family\t: 25\nmodel\t\t: 1\n")
    assert cpu_model(str(info)) == "AMD EPYC (family 25, model 1)"
    assert cpu_model(str(tmp_path / "missing")) is None
