"""The shipped classifier behind the metrics, and the evaluate command."""
import json
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_python, run_script
from pyimagesearch.quality import classifier
from pyimagesearch.data.datasets import scale_images
from pyimagesearch.data.readers import load_fashion_mnist


def test_shipped_weights_are_small_and_reach_91_percent(real_data):
    assert os.path.getsize(classifier.WEIGHTS) < 1_000_000
    with open(classifier.CARD) as f:
        card = json.load(f)
    assert card["test_accuracy"] >= 0.91 and card["test_images"] == 10000
    (_, (test_x, test_y)), _ = load_fashion_mnist(real_data, download=False)
    _, predicted = classifier.FeatureExtractor()(scale_images(test_x))
    accuracy = float((predicted == test_y).mean())
    assert accuracy >= 0.91
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-3)


@pytest.mark.slow
def test_train_classifier_script_writes_weights_and_card(tmp_path, real_data):
    weights = tmp_path / "c.weights.h5"
    result = run_python("train_classifier.py", "--epochs", "1", "--limit", "1024",
                        "--weights", weights)
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / "c.json").read_text())
    assert card["train_images"] == 1024 and 0 <= card["test_accuracy"] <= 1
    features, classes = classifier.FeatureExtractor(str(weights))(
        np.zeros((3, 28, 28, 1), "float32"))
    assert features.shape == (3, 128) and classes.shape == (3,)


@pytest.mark.parametrize("flags, message", [
    (("--epochs", "0"), "--epochs must be a positive integer"),
    (("--limit", "100"), "--limit must be at least 128"),
])
def test_train_classifier_rejects_bad_flags(tmp_path, flags, message):
    weights = tmp_path / "c.weights.h5"
    assert_one_line_error(run_python("train_classifier.py", *flags,
                                     "--weights", weights), message)
    assert not weights.exists()


@pytest.fixture(scope="module")
def small_generator(tmp_path_factory, real_data):
    out = str(tmp_path_factory.mktemp("gen"))
    result = run_script("--output", out, "--limit", "1280", "--epochs", "1",
                        "--seed", "2", "--metrics-every", "1")
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.mark.slow      # end to end, and slow: README's second command
def test_evaluate_prints_metrics_and_the_floor(small_generator, tmp_path):
    out, _ = small_generator
    csv_path = tmp_path / "m.csv"
    result = run_python("evaluate.py", os.path.join(out, "generator.keras"),
                        os.path.join(out, "checkpoints", "ckpt-00000010.npz"),
                        "--num", "600", "--csv", csv_path,
                        env={"DCGAN_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "not Inception" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "FD=" in line]
    assert len(lines) == 3 and lines[0].startswith("[INFO] real-data floor")
    fd = [float(line.split("FD=")[1].split(",")[0]) for line in lines]
    swd = [float(line.split("SWD=")[1].split(" ")[0]) for line in lines]
    # a 10-step generator is far from the data; real images are close
    assert fd[1] == pytest.approx(fd[2], rel=1e-6)   # same weights twice
    assert fd[1] > 5 * fd[0]
    assert swd[1] == swd[2] and swd[1] > 3 * swd[0]
    # against the run's own 1280 images (its --limit), 600 of them
    assert "[INFO] real images: 1280 from" in result.stdout
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("epoch,swd,swd_28,fd,kid") and len(rows) == 4
    assert os.listdir(tmp_path / "cache")            # real stats cached


@pytest.mark.slow      # end to end, and slow: README's second command
def test_training_logs_metrics_csv(small_generator):
    out, result = small_generator
    assert "[INFO] metrics at epoch 1: SWD=" in result.stdout
    assert "(x1000; 28px " in result.stdout and ", FD=" in result.stdout
    assert ("[INFO] best FD so far" in result.stdout
            and os.path.isfile(os.path.join(out, "generator_best.keras")))
    rows = open(os.path.join(out, "metrics.csv")).read().splitlines()
    assert rows[1].startswith("real-data floor,") and rows[2].startswith("1,")
    assert len(rows) == 3


@pytest.mark.slow      # end to end, and slow: README's second command
def test_metrics_leave_the_training_run_unchanged(small_generator, tmp_path):
    out, _ = small_generator
    plain = str(tmp_path)
    result = run_script("--output", plain, "--limit", "1280", "--epochs", "1",
                        "--seed", "2")
    assert result.returncode == 0
    for name in ("epoch_0001_output.png", "epoch_0001_step_00000.png"):
        assert open(os.path.join(out, name), "rb").read() == \
            open(os.path.join(plain, name), "rb").read()


def test_evaluate_errors(tmp_path):
    result = run_python("evaluate.py", tmp_path / "missing.keras")
    assert_one_line_error(result, "does not exist")
