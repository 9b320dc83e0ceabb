"""End-to-end: --conditional on a slice of the real Fashion-MNIST and on a
folder of class folders: the classes named, montages one class a row,
quality per class asked, exact resume, generate.py --class, and one-line
errors for what cannot work."""
import csv
import os

import cv2
import numpy as np
import pytest

from conftest import (assert_one_line_error, run_python, run_script,
                      trained_once)
from pyimagesearch.runfiles import checkpoint as ckpt

# 640 Fashion-MNIST images / batch 64 = 10 steps an epoch
CONDITIONAL = ["--conditional", "--tensorboard", "--limit", "640",
               "--batch-size", "64",
               "--epochs", "2", "--seed", "3", "--ema", "0.9",
               "--metrics-every", "2", "--augment", "translation"]
FASHION = ("T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, "
           "Sneaker, Bag, Ankle boot")


@pytest.fixture(scope="module")
def whole(tmp_path_factory, real_data):
    return trained_once(tmp_path_factory, "conditional", CONDITIONAL)


def test_classes_named_recorded_and_drawn_one_a_row(whole):
    out, result = whole
    assert f"[INFO] 10 classes (--conditional onehot): {FASHION}" in \
        result.stdout
    _, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    assert meta["settings"]["conditional"] == "onehot"
    assert ", ".join(meta["settings"]["class_names"]) == FASHION
    # 10 classes a row each, 16 benchmark noise vectors a column
    montage = cv2.imread(os.path.join(out, "epoch_0002_output.png"))
    assert montage.shape == (10 * 28, 16 * 28, 3)
    ema = cv2.imread(os.path.join(out, "ema_epoch_0002_output.png"))
    assert ema.shape == montage.shape


def test_quality_of_the_class_asked_is_measured(whole):
    out, result = whole
    with open(os.path.join(out, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["real-data floor", "2"]
    # the shipped classifier names most real images' own class
    assert float(rows[0]["accuracy"]) > 0.85
    for row in rows[1:]:
        assert 0 <= float(row["accuracy"]) <= 1 and float(row["fd"]) > 0
        assert all(row[f"accuracy_{c}"] for c in range(10))
    assert "of the class asked=" in result.stdout
    # and on TensorBoard, for G and its average
    import glob
    import tensorflow as tf
    tags = {value.tag for path in glob.glob(os.path.join(
                out, "tensorboard", "events.out.tfevents.*"))
            for event in tf.compat.v1.train.summary_iterator(path)
            for value in event.summary.value}
    assert {"quality/accuracy", "ema_quality/accuracy"} <= tags, tags
    measured = run_python("evaluate.py", os.path.join(out, "generator.keras"),
                          "--num", "640")
    assert measured.returncode == 0, measured.stderr
    assert "of the class asked=" in measured.stdout
    assert "real images: 640 from" in measured.stdout


def test_generate_draws_the_classes_asked(whole, tmp_path):
    model = os.path.join(whole[0], "generator.keras")
    out = str(tmp_path / "samples")
    result = run_python("generate.py", model, "-o", out, "--class", "sneaker",
                        "--class", "0", "--num", "3", "--scale", "1")
    assert result.returncode == 0, result.stderr
    assert "3 samples of each class (Sneaker, T-shirt/top" in result.stdout
    image = cv2.imread(os.path.join(out, "samples_seed0_class7-0.png"))
    assert image.shape == (2 * 28, 3 * 28, 3)
    # without --class: every class in turn, said in one line
    every = run_python("generate.py", model, "-o", out, "--num", "2")
    assert "drawing each in turn" in every.stdout
    assert cv2.imread(os.path.join(out, "samples_seed0_all.png")).shape[0] \
        == 10 * 28 * 2
    walk = run_python("generate.py", model, "-o", out, "--class", "Bag",
                      "--interpolate", "1", "2", "--steps", "4")
    assert walk.returncode == 0, walk.stderr
    assert "interpolation of each class (Bag" in walk.stdout
    bad = run_python("generate.py", model, "-o", out, "--class", "Sneakers")
    assert_one_line_error(bad, "--class Sneakers is not one of",
                          "7 Sneaker, 8 Bag")
    assert sorted(os.listdir(out)) == [
        "interpolation_1_2_class8.png", "samples_seed0_all.png",
        "samples_seed0_class7-0.png"]


@pytest.mark.slow      # end to end, and slow: README's second command
def test_what_conditioning_cannot_do_is_refused(whole, tmp_path):
    plain = str(tmp_path / "plain")
    result = run_script("--output", plain, "--limit", "128", "--batch-size",
                        "64", "--epochs", "2", "--pause-after", "1")
    assert result.returncode == 0, result.stderr
    before = sorted(os.listdir(plain))
    switched = run_script("--output", plain, "--resume", "--conditional")
    assert_one_line_error(switched, "made without --conditional")
    assert "[INFO] loading" not in switched.stdout
    assert sorted(os.listdir(plain)) == before
    unconditional = run_python(
        "generate.py", ckpt.latest_checkpoint(plain), "-o",
        str(tmp_path / "s"), "--class", "Bag")
    assert_one_line_error(unconditional, "unconditional generator")
    mixed = run_python("evaluate.py",
                       os.path.join(whole[0], "generator.keras"),
                       ckpt.latest_checkpoint(plain))
    assert_one_line_error(mixed, "draw different classes")
    assert "real images" not in mixed.stdout
    radford = run_script("--output", str(tmp_path / "r"), "--conditional",
                         "--arch", "radford")
    assert_one_line_error(radford, "--arch radford", "got 28")


def write_class_folders(root, counts, size=20):
    for number, (name, count) in enumerate(sorted(counts.items())):
        os.makedirs(os.path.join(root, name))
        for index in range(count):
            image = np.full((size, size, 3), (60 * number, 90, 200 - 60 *
                                              number), np.uint8)
            cv2.circle(image, (10, 10), 2 + index % 7, (255, 255, 255), -1)
            assert cv2.imwrite(os.path.join(root, name, f"{index:02d}.png"),
                               image)


@pytest.mark.slow      # end to end, and slow: README's second command
def test_a_folder_of_class_folders(tmp_path):
    root = str(tmp_path / "shapes")
    write_class_folders(root, {"blue": 24, "green": 24, "red": 8})
    out = str(tmp_path / "run")
    # the projection design on the DCGAN paper's models, end to end (the
    # Fashion-MNIST runs above: the default one-hot design on the
    # tutorial's models; exact resume of a conditional run:
    # tests/scripts/test_small_data.py)
    flags = ["--dataset", root, "--conditional", "projection", "--arch",
             "radford", "--image-size", "16", "--batch-size", "8",
             "--epochs", "2", "--seed", "1", "--recipe", "tutorial"]
    result = run_script("--output", out, *flags)
    assert result.returncode == 0, result.stderr
    _, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    assert (meta["settings"]["conditional"], meta["settings"]["arch"]) == \
        ("projection", "radford")
    assert "[INFO] 3 classes (--conditional projection): blue, green, " \
        "red" in result.stdout
    assert "[WARNING] 1 class(es) with fewer than 20 images" in \
        result.stdout and "red (8)" in result.stdout
    montage = cv2.imread(os.path.join(out, "epoch_0002_output.png"))
    assert montage.shape == (3 * 16, 16 * 16, 3)
    switched = run_script("--output", out, "--resume", "--conditional")
    assert_one_line_error(switched, "made with --conditional projection")
    samples = run_python("generate.py", os.path.join(out, "generator.keras"),
                         "-o", str(tmp_path / "s"), "--class", "red")
    assert "(red, one a row)" in samples.stdout
    from_checkpoint = run_python("generate.py", ckpt.latest_checkpoint(out),
                                 "-o", str(tmp_path / "c"), "--class", "2")
    assert "(red, one a row)" in from_checkpoint.stdout

    # images directly in the top folder have no class: nothing is written
    cv2.imwrite(os.path.join(root, "loose.png"), np.zeros((8, 8, 3)))
    loose = run_script("--output", str(tmp_path / "loose"), "--dataset", root,
                       "--conditional", "--image-size", "16")
    assert_one_line_error(loose, "lie directly in it", "loose.png")
    assert not [name for name in os.listdir(str(tmp_path / "loose"))
                if not name.startswith(".")]


def test_each_batch_keeps_its_labels_through_shuffling():
    # the training loop itself, with a trainer that records what it gets
    import dcgan_fashion_mnist as script
    from pyimagesearch.runfiles.config import RunConfig
    from pyimagesearch.run.hooks import HookList
    from pyimagesearch.run.state import RunState

    labels = np.arange(40) % 7
    images = np.zeros((40, 4, 4, 1), np.uint8)
    images[..., 0] = (labels * 30)[:, None, None]   # an image tells its label

    class Recorder:
        seen = []

        def train_step(self, image_batch, class_batch):
            self.seen.append((image_batch, class_batch))
            return 0.0, 0.0

    config = RunConfig(epochs=2, batch_size=8, seed=5, shuffle=True)
    trainer = Recorder()
    script.train_epochs(trainer, images, RunState(), config, 2, HookList([]),
                        labels)
    assert len(trainer.seen) == 10
    orders = []
    for image_batch, class_batch in trainer.seen:
        told = np.rint((image_batch[:, 0, 0, 0] * 127.5 + 127.5) / 30)
        assert told.tolist() == class_batch.tolist()
        orders.append(class_batch.tolist())
    assert orders[:5] != orders[5:]           # a new order each epoch


def test_a_class_is_named_before_it_is_numbered():
    from generate import class_number
    names = ["0", "1", "10", "2", "Bag", "coat", "COAT"]
    assert class_number(names, "10") == 2          # the name, not index 10
    assert class_number(names, "3") == 3           # no such name: a number
    assert class_number(names, "bag") == 4
    assert class_number(names, "COAT") == 6        # exact first
    assert class_number(names, "Coat") is None     # two in another case
    assert class_number(names, "²") is None        # no traceback on int()
    assert class_number(names, "7") is None
    assert class_number(names, "ALL") == "all"
