"""The other scripts: generate, evaluate, bench, train_classifier; and the
training script's progress bar and plots on a real small run."""
import fcntl
import os
import pty
import re
import select
import struct
import termios
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import (ROOT, SCRIPT, assert_one_line_error, run_python,
                      run_script)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, real_data):
    out = str(tmp_path_factory.mktemp("trained"))
    result = run_script("--output", out, "--limit", "1280", "--epochs", "2",
                        "--seed", "3")
    assert result.returncode == 0, result.stderr
    return out


def test_plots_are_written_each_epoch(trained):
    assert cv2.imread(os.path.join(trained, "losses.png")).shape == (450, 800, 3)
    from PIL import Image
    with Image.open(os.path.join(trained, "training.gif")) as gif:
        assert gif.n_frames == 2 and gif.size == (448, 448)


@pytest.mark.slow
def test_progress_bar_on_a_terminal(tmp_path, real_data):
    master, slave = pty.openpty()
    # a terminal 160 columns wide (a bare pty reports 0 and tqdm draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, "--output", str(tmp_path), "--limit", "1280",
         "--epochs", "1"], stdout=subprocess.PIPE, stderr=slave, env=env,
        cwd=ROOT, text=True)
    os.close(slave)
    terminal = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            terminal += chunk
        elif proc.poll() is not None:
            break
    stdout = proc.stdout.read()
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    screen = terminal.decode(errors="replace")
    assert "epoch 1/1" in screen and "d_loss=" in screen and "g_loss=" in screen
    assert "step/s" in screen or "s/step" in screen
    assert "<" in screen           # tqdm's elapsed<remaining (ETA)
    # the tutorial's lines stay whole on stdout
    assert "[INFO] Step 1_0: discriminator_loss=" in stdout
    assert "[INFO] Step 1_9: discriminator_loss=" in stdout
    assert "\r" not in stdout


def test_generate_samples_and_singles(trained, tmp_path):
    model = os.path.join(trained, "generator.keras")
    result = run_python("generate.py", model, "--output", tmp_path, "--num", "12",
                        "--seed", "5", "--singles")
    assert result.returncode == 0, result.stderr
    montage = cv2.imread(str(tmp_path / "samples_seed5.png"))
    assert montage.shape == (3 * 56, 4 * 56, 3)     # 4x3 grid, 2x enlarged
    singles = sorted(p for p in os.listdir(tmp_path) if p.startswith("sample_"))
    assert len(singles) == 12
    again = tmp_path / "again"
    run_python("generate.py", model, "--output", again, "--num", "12", "--seed", "5")
    assert (cv2.imread(str(again / "samples_seed5.png")) == montage).all()
    other = run_python("generate.py", model, "--output", again, "--num", "12",
                       "--seed", "6")
    assert other.returncode == 0
    assert not (cv2.imread(str(again / "samples_seed6.png")) == montage).all()


def test_generate_interpolation_strip(trained, tmp_path):
    ckpt = sorted(os.listdir(os.path.join(trained, "checkpoints")))[-1]
    result = run_python("generate.py", os.path.join(trained, "checkpoints", ckpt),
                        "--output", tmp_path, "--interpolate", "1", "2", "--steps",
                        "8", "--scale", "1")
    assert result.returncode == 0, result.stderr
    strip = cv2.imread(str(tmp_path / "interpolation_1_2.png"))
    assert strip.shape == (28, 8 * 28, 3)
    # the strip walks somewhere: its two ends are different images
    first, last = strip[:, :28].astype(int), strip[:, -28:].astype(int)
    assert np.abs(first - last).mean() > 1


def test_generate_errors(tmp_path):
    assert_one_line_error(run_python("generate.py", tmp_path / "none.keras",
                                     "--output", tmp_path), "does not exist")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    result = run_python("generate.py", bad, "--output", tmp_path)
    assert_one_line_error(result, "not a loadable Keras model")
    assert_one_line_error(run_python("generate.py", bad, "--output", tmp_path,
                                     "--num", "0"), "--num must be from 1 to")


@pytest.mark.parametrize("flags,fragment", [
    (["--seed", "-1"], "--seed must be from 0 to 4294967295, got -1"),
    (["--scale", "100000"], "--scale must be from 1 to 16"),
    (["--num", str(10 ** 9)], "--num must be from 1 to 10000"),
    (["--steps", str(10 ** 9)], "--steps must be from 2 to 1000"),
    (["--interpolate", "1", "-2"], "--interpolate must be from 0 to"),
    (["--num", "10000", "--scale", "16"], "the picture would be 44800x44800 "
                                          "pixels, more than 16384 a side"),
])
def test_generate_numbers_out_of_range(trained, tmp_path, flags, fragment):
    model = os.path.join(trained, "generator.keras")
    assert_one_line_error(run_python("generate.py", model, "--output",
                                     tmp_path, *flags), fragment)
    assert not [name for name in os.listdir(tmp_path)
                if name.endswith(".png")]


def test_generate_refuses_a_model_that_is_not_a_generator(tmp_path):
    import keras
    from pyimagesearch.dcgan import DCGAN
    disc = tmp_path / "discriminator.keras"
    DCGAN.build_discriminator(28, 28, 1).save(disc)
    dense = tmp_path / "dense.keras"
    keras.Sequential([keras.Input((100,)), keras.layers.Dense(3)]).save(dense)
    for model in (disc, dense):
        for extra in ([], ["--interpolate", "1", "2"]):
            assert_one_line_error(
                run_python("generate.py", model, "--output", tmp_path,
                           *extra), "it is not a generator")
    assert_one_line_error(run_python("evaluate.py", disc),
                          "it is not a generator")


def test_generate_says_how_to_do_without_a_damaged_checkpoint(trained,
                                                              tmp_path):
    """A good generator.keras beside a checkpoint that cannot be read for
    the noise it was trained on: --noise gets round it."""
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for path in (run / "checkpoints").iterdir():
        path.write_bytes(b"damaged")
    model = str(run / "generator.keras")
    assert_one_line_error(run_python("generate.py", model, "--output",
                                     tmp_path / "s"),
                          "pass --noise uniform or --noise normal")
    result = run_python("generate.py", model, "--output", tmp_path / "s",
                        "--noise", "uniform", "--num", "4")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("flags,fragment", [
    (["--batch-size", "0"], "--batch-size must be a positive"),
    (["--image-size", "30"], "--image-size must be a multiple of 4"),
    (["--channels", "2"], "--channels must be 1 (grey) or 3 (colour)"),
    (["--batch-size", "abc"], "invalid int value: 'abc'"),
    (["--batch-size", str(10 ** 9)], "needs about"),  # more than any memory
    (["--arch", "radford"], "must be a power of two from 16"),
    (["--augment", "zoom"], "--augment takes a comma-separated list"),
    (["--recipes"], "--arch radford doubles the size from 4x4"),  # at 28
    (["--distribute", "multi-worker"], "invalid choice: 'multi-worker'"),
    (["--distribute", "mirrored", "--cpu-replicas", "1"],
     "--cpu-replicas must be from 2"),
    (["--distribute", "mirrored", "--cpu-replicas", "2", "--tips"],
     "pass one of them"),
    pytest.param(["--distribute", "mirrored", "--cpu-replicas", "2",
                  "--batch-size", "15"],
                 "--batch-size 15 does not split evenly across 2 replicas",
                 marks=pytest.mark.slow),     # starts TensorFlow
])
def test_bench_rejects_bad_flags(flags, fragment):
    # a split checked once the logical devices exist: a new TensorFlow
    process = "--batch-size" in flags and "--cpu-replicas" in flags
    assert_one_line_error(run_python("bench.py", "--quick", *flags,
                                     process=process), fragment)


def printed(text):
    """A number as printed, and half a unit of its last printed digit: the
    most its rounding can have moved it."""
    decimals = len(text.partition(".")[2])
    return float(text), 0.5 * 10.0 ** -decimals


def assert_printed_quotient(quotient, numerator, denominator):
    """`quotient` as printed is numerator / denominator, each as printed
    (a string) or exact (a number), to within the rounding of all three."""
    (q, dq), (a, da), (b, db) = (
        printed(x) if isinstance(x, str) else (x, 0.0)
        for x in (quotient, numerator, denominator))
    low = (a - da) / (b + db)
    high = (a + da) / (b - db) if b - db > 0 else float("inf")
    assert low - dq - 1e-9 <= q <= high + dq + 1e-9, (
        f"{quotient} is not {numerator} / {denominator}")


@pytest.mark.slow
def test_bench_quick_prints_ratios():
    # at another size than the tutorial's: the same code, other shapes
    result = run_python("bench.py", "--quick", "--image-size", "32",
                        "--channels", "3", timeout=600, process=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("32x32x3 images, batch 128" in line for line in lines)
    assert any("GFLOP (counted from the layers)" in line for line in lines)
    assert any(line.startswith("[BENCH] NumPy's matmul") for line in lines)
    products = [line for line in lines if "matrix products alone" in line]
    assert len(products) == 1 and "float32" in products[0]
    assert "x floor" in products[0]
    rows = {line[:40].strip(): line[40:].split() for line in lines
            if line.startswith(("2020 loop", "project step"))}
    assert "2020 loop (gen.predict per step)" in rows
    assert "project step, fp32 (the script's)" in rows
    for name, (ms, floor_ratio, speedup) in rows.items():
        assert float(ms) > 0 and float(floor_ratio) > 0 and float(speedup) > 0
    assert float(rows["2020 loop (gen.predict per step)"][2]) == 1.0

    # the numbers printed are each other's arithmetic: the step's FLOPs are
    # those of the 32x32x3 models at batch 128, the floor is FLOPs / rate,
    # and every "x floor" and speed-up is a quotient of printed times
    from pyimagesearch.benchmark import step_flops
    from pyimagesearch.dcgan import DCGAN
    flops = step_flops(DCGAN.build_generator(8, 64, channels=3),
                       DCGAN.build_discriminator(32, 32, 3), 128)
    (header,) = [line for line in lines if "GFLOP (counted" in line]
    gflop, rate, floor = re.search(
        r"one step = ([\d.]+) GFLOP .* fp32 GEMM rate (\d+) GFLOP/s .*"
        r"-> fp32 floor ([\d.]+) ms/step", header).groups()
    assert gflop == f"{flops / 1e9:.2f}"
    assert_printed_quotient(floor, flops / 1e6, rate)
    (numpy_line,) = [line for line in lines if "NumPy's matmul" in line]
    numpy_rate, numpy_ms = re.search(
        r"(\d+) GFLOP/s -> ([\d.]+) ms/step", numpy_line).groups()
    assert_printed_quotient(numpy_ms, flops / 1e6, numpy_rate)
    times = re.findall(r"(\w+) ([\d.]+) ms \(([\d.]+)x floor\)",
                       products[0])
    assert [dtype for dtype, _, _ in times][:1] == ["float32"]
    for _, ms, floor_ratio in times:
        assert_printed_quotient(floor_ratio, ms, floor)
    baseline = rows["2020 loop (gen.predict per step)"][0]
    for name, (ms, floor_ratio, speedup) in rows.items():
        assert_printed_quotient(floor_ratio, ms, floor)
        assert_printed_quotient(speedup, baseline, ms)


@pytest.mark.slow
def test_bench_distribute_prints_each_replica_counts_step_as_a_ratio():
    result = run_python("bench.py", "--quick", "--distribute", "mirrored",
                        "--cpu-replicas", "4", "--batch-size", "8",
                        timeout=600, process=True)
    assert result.returncode == 0, result.stderr
    assert "replicas on 4 logical devices of the CPU; global batch 8" in \
        result.stdout
    assert "(not timed: 3 replicas, which do not split the batch of 8)" in \
        result.stdout
    rows = {line[:36].strip(): line[36:].split()
            for line in result.stdout.splitlines()
            if line.startswith(("one device", "--distribute"))}
    assert list(rows) == ["one device (the default loop)",
                          "--distribute mirrored, 1 replica",
                          "--distribute mirrored, 2 replicas",
                          "--distribute mirrored, 4 replicas"]
    assert rows["one device (the default loop)"][1] == "1.000"
    base = rows["one device (the default loop)"][0]
    for name, (ms, ratio) in rows.items():
        assert float(ms) > 0
        assert_printed_quotient(ratio, ms, base)


@pytest.mark.slow
def test_bench_tips_prints_each_tips_cost_as_a_ratio():
    result = run_python("bench.py", "--quick", "--tips", "--batch-size",
                        "16", timeout=600, process=True)
    assert result.returncode == 0, result.stderr
    rows = {line[:28].strip(): line[28:].split()
            for line in result.stdout.splitlines()
            if line.startswith(("the tutorial", "--", "all of them"))}
    assert list(rows) == ["the tutorial's recipe", "--noise normal",
                          "--disc-dropout 0.3", "--label-smoothing 0.1",
                          "--label-noise 0.05", "--gan-lr 1e-4",
                          "--ema 0.999", "all of them"]
    assert rows["the tutorial's recipe"][2] == "1.000"
    assert all(float(ms) > 0 and float(ratio) > 0
               for ms, _, ratio, _, _ in rows.values())
    # each ratio is the tip's ms/step over the tutorial's; images a
    # second, the batch of 16 over the step's time; the tips change no
    # layer, so every row has the tutorial's floor
    base = rows["the tutorial's recipe"][0]
    for name, (ms, per_second, ratio, floor, over) in rows.items():
        assert_printed_quotient(ratio, ms, base)
        assert_printed_quotient(over, ms, floor)
        assert floor == rows["the tutorial's recipe"][3]
        assert float(per_second) == pytest.approx(16000 / float(ms),
                                                  rel=0.02, abs=1)


@pytest.mark.slow
def test_bench_recipes_time_the_small_data_switches_as_ratios():
    result = run_python("bench.py", "--quick", "--recipes", "--image-size",
                        "16", "--channels", "3", "--batch-size", "8",
                        timeout=600, process=True)
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith(("the tutorial", "the same", "--")):
            name, ms, per_second, ratio, floor, over = line.rsplit(None, 5)
            rows[name.strip()] = (ms, per_second, ratio, floor, over)
    augment = "--augment color,translation,cutout"
    tape = "--step tape --loss hinge"
    assert list(rows) == [
        "the tutorial's recipe", augment, "--arch radford",
        "--arch radford " + augment, tape, tape + " --spectral-norm",
        tape + " --spectral-norm --xla", "the same --mbstd",
        tape + " --spectral-norm --xla --width 0.5",
        "--recipe small-data (the averaging included)",
        "the same --self-supervised",
        tape + " --spectral-norm --r1 0.05 " + augment
        + " --ema 0.999 --ema-rampup 0.05", "the same --xla"]
    base = rows["the tutorial's recipe"][0]
    # the floor is counted from each row's layers: spectral norm's
    # wrapped layers count as themselves (tests/test_benchmark.py), the
    # DCGAN paper's models are others
    floors = {name: float(row[3]) for name, row in rows.items()}
    assert floors[tape + " --spectral-norm --xla"] == floors[tape] == \
        floors["the tutorial's recipe"] > 0
    assert floors["--arch radford"] != floors[tape]
    # half the widths: about a quarter of the products, the recipe's too
    half = floors[tape + " --spectral-norm --xla --width 0.5"]
    assert floors[tape] / 5 < half < floors[tape] / 2
    assert floors["--recipe small-data (the averaging included)"] == half
    # the decoder's products on the real half come on top
    assert half < floors["the same --self-supervised"] < 2 * half
    for name, (ms, per_second, ratio, floor, over) in rows.items():
        assert_printed_quotient(ratio, ms, base)
        assert_printed_quotient(over, ms, floor)
        # images a second: the batch of 8 over the step's time
        assert float(per_second) == pytest.approx(8000 / float(ms), rel=0.02,
                                                  abs=1)
