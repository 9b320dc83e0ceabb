"""The benchmark's arithmetic: the step's FLOPs and matrix products counted
from the tutorial's layers, checked against numbers worked out by hand."""
import numpy as np
import pytest

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


def test_products_time_is_zero_for_nothing_and_positive_for_work():
    assert products_time({}) == 0
    seconds = products_time({(512, 512, 512, False): 3}, repeats=3)
    assert np.isfinite(seconds) and seconds > 0


def test_numpy_gemm_rate_is_a_rate():
    rate = numpy_gemm_rate(sizes=(256,), repeats=3)
    assert 1e8 < rate < 1e13


def test_cpu_model_names_the_generation(tmp_path):
    from pyimagesearch.benchmark import cpu_model
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                    "cpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
                    "processor\t: 1\ncpu family\t: 25\nmodel\t\t: 1\n")
    assert cpu_model(str(info)) == "AMD EPYC (family 25, model 1)"
    assert cpu_model(str(tmp_path / "missing")) is None
