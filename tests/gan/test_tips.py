"""End-to-end runs with the GAN tips on: recorded, fixed on resume, an
exact resume with all of them at once, the averaged generator's files,
TensorBoard summaries, and compare.py over the runs."""
import csv
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_python, run_script
from pyimagesearch.runfiles import checkpoint as ckpt

# 1280 images / batch 64 = 20 steps an epoch
ALL_TIPS = ["--limit", "1280", "--batch-size", "64", "--epochs", "2",
            "--seed", "4", "--noise", "normal", "--disc-dropout", "0.3",
            "--label-smoothing", "0.1", "--label-noise", "0.05",
            "--disc-lr", "3e-4", "--gan-lr", "1.5e-4", "--ema", "0.9"]
SETTINGS = {"noise": "normal", "disc_dropout": 0.3, "label_smoothing": 0.1,
            "label_noise": 0.05, "disc_lr": 3e-4, "gan_lr": 1.5e-4,
            "ema": 0.9}


def files(folder, prefix=""):
    return {name: open(os.path.join(folder, name), "rb").read()
            for name in sorted(os.listdir(folder))
            if name.endswith(".png") and name.startswith(prefix)}


def weights(path):
    import keras
    return keras.models.load_model(path).get_weights()


def assert_same_weights(a, b):
    for x, y in zip(weights(a), weights(b)):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def whole(tmp_path_factory, real_data):
    out = str(tmp_path_factory.mktemp("tips") / "whole")
    result = run_script("--output", out, *ALL_TIPS, "--tensorboard")
    assert result.returncode == 0, result.stderr
    return out, result


def test_every_tip_is_recorded_and_announced(whole):
    out, result = whole
    assert ("[INFO] GAN tips on: --noise normal --disc-dropout 0.3 "
            "--label-smoothing 0.1 --label-noise 0.05 --disc-lr 0.0003 "
            "--gan-lr 0.00015 --ema 0.9") in result.stdout
    state, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    for key, value in SETTINGS.items():
        assert meta["settings"][key] == value
    # D's three dropout layers and their seed state, and the average of G
    assert sum(name.endswith("_Dropout/seed_generator_state")
               for name in state) == 3
    assert any(name.startswith("generator_ema/") for name in state)
    # the benchmark noise was drawn from the normal distribution
    noise = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))[2][
        "benchmark_noise"]
    assert np.abs(noise).max() > 1


def test_averaged_generator_gets_its_own_files(whole):
    out, _ = whole
    montages, averaged = files(out, "epoch_"), files(out, "ema_")
    assert sorted(averaged) == sorted("ema_" + name for name in montages)
    assert all(averaged["ema_" + name] != image
               for name, image in montages.items())
    assert os.path.isfile(os.path.join(out, "generator_ema.keras"))
    ema = weights(os.path.join(out, "generator_ema.keras"))
    raw = weights(os.path.join(out, "generator.keras"))
    assert any(not np.array_equal(a, b) for a, b in zip(ema, raw))


def test_resume_with_every_tip_is_identical(whole, tmp_path):
    out = str(tmp_path / "paused")
    first = run_script("--output", out, *ALL_TIPS, "--pause-after", "1")
    assert first.returncode == 0, first.stderr
    assert "[INFO] paused after epoch 1 of 2" in first.stdout
    assert not os.path.exists(os.path.join(out, "generator.keras"))
    # a changed tip is refused, in one line, and changes nothing
    assert_one_line_error(
        run_script("--output", out, "--resume", "--label-noise", "0.1"),
        "the checkpoint was made with --label-noise 0.05, and this resume "
        "asks for it with --label-noise 0.1")
    second = run_script("--output", out, "--resume")
    assert second.returncode == 0, second.stderr
    assert "[INFO] resumed from" in second.stdout
    assert "[INFO] starting epoch 1 of 2..." not in second.stdout
    assert files(out) == files(whole[0])
    for name in ("generator.keras", "generator_ema.keras"):
        assert_same_weights(os.path.join(out, name),
                            os.path.join(whole[0], name))


def test_tensorboard_holds_losses_and_montages(whole):
    import tensorflow as tf
    out, _ = whole
    folder = os.path.join(out, "tensorboard")
    tags = {}
    for name in os.listdir(folder):
        for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    # one loss value a step, at global steps 1..40
    assert tags["loss/discriminator"] == list(range(1, 41))
    assert tags["loss/adversarial"] == list(range(1, 41))
    # a montage at each montage step (0 and end of epoch: steps 1, 20,
    # 21, 40), for G and its average
    assert tags["montage"] == [1, 20, 21, 40]
    assert tags["ema_montage"] == [1, 20, 21, 40]


def write_metrics(folder, name, fds):
    with open(os.path.join(folder, name), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "fd", "kid", "kid_std",
                         "class_entropy_bits", "min_class_share"])
        writer.writerow(["real-data floor", 0.05, 0.001, 0.0001, 3.3, 0.09])
        for epoch, fd in enumerate(fds, 1):
            writer.writerow([epoch, fd, fd / 10, 0.01, 2.5, 0.03])


def test_compare_plots_runs_named_by_their_tips(whole, tmp_path):
    out, _ = whole
    write_metrics(out, "metrics.csv", [30, 20])
    write_metrics(out, "ema_metrics.csv", [25, 15])
    png = str(tmp_path / "comparison.png")
    result = run_python("compare.py", out, "-o", png)
    assert result.returncode == 0, result.stderr
    flags = ("--noise normal --disc-dropout 0.3 --label-smoothing 0.1 "
             "--label-noise 0.05 --disc-lr 0.0003 --gan-lr 0.00015")
    assert f"[INFO] {out}: {flags}: FD 20.00 at epoch 2" in result.stdout
    assert (f"[INFO] {out}: {flags}, averaged G (--ema 0.9): FD 15.00 at "
            "epoch 2") in result.stdout
    import cv2
    image = cv2.imread(png)
    assert image is not None and image.shape[1] >= 1000
    # a run without metrics is named, in one line
    bare = tmp_path / "bare"
    bare.mkdir()
    assert_one_line_error(run_python("compare.py", out, bare, "-o", png),
                          f"{bare} has no metrics.csv")


def test_generate_and_evaluate_use_the_average_and_the_noise(whole,
                                                              tmp_path):
    out, _ = whole
    checkpoint = ckpt.latest_checkpoint(out)
    from pyimagesearch.runfiles.saved import load_generator, trained_noise
    assert trained_noise(checkpoint) == "normal"
    assert trained_noise(os.path.join(out, "generator_ema.keras")) == "normal"
    averaged = load_generator(checkpoint, ema=True)
    for a, b in zip(averaged.get_weights(),
                    weights(os.path.join(out, "generator_ema.keras"))):
        np.testing.assert_array_equal(a, b)
    samples = tmp_path / "samples"
    result = run_python("generate.py", checkpoint, "--ema", "--output",
                        samples, "--num", "4")
    assert result.returncode == 0, result.stderr
    assert os.listdir(samples) == ["ema_samples_seed0.png"]
    assert_one_line_error(
        run_python("generate.py", os.path.join(out, "generator.keras"),
                   "--ema", "--output", samples),
        "pass the run's generator_ema.keras itself")
    assert_one_line_error(
        run_python("generate.py", checkpoint, "--noise", "gauss",
                   "--output", samples), "invalid choice: 'gauss'")
