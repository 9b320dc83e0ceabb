"""Evaluate a generator against Fashion-MNIST with the shipped classifier:
FD, KID and class coverage, beside the same numbers for real images."""
import csv
import os

import numpy as np

from ..data.datasets import scale_images
from ..data.readers import load_fashion_mnist
from ..errors import UserError
from ..gan.noise import seeded_noise
from ..run.outputs import EMA_METRICS, METRICS
from . import metrics
from .classifier import WEIGHTS, FeatureExtractor

FIELDS = ["epoch", "fd", "kid", "kid_std", "class_entropy_bits",
          "min_class_share"] + [f"share_{c}" for c in range(10)]


def check_measurable(generator, name="the generator"):
    """Only Fashion-MNIST generators can be measured: the classifier
    behind the metrics knows 28x28 grey garments, nothing else."""
    shape = tuple(generator.output_shape[1:])
    if shape != (28, 28, 1):
        raise UserError(
            f"{name} makes {'x'.join(map(str, shape))} images; the quality "
            "metrics need a classifier for the data, and one exists for "
            "Fashion-MNIST (28x28x1) only")


def check_classifier():
    if not os.path.isfile(WEIGHTS):
        raise UserError(f"classifier weights {WEIGHTS} are missing; "
                        "train them with: python train_classifier.py")


class QualityEvaluator:
    """Real-data statistics are computed once (and cached on disk)."""

    def __init__(self, data_dir=None, num_samples=10000, seed=0):
        check_classifier()
        ((train_x, _), (test_x, _)), _ = load_fashion_mnist(data_dir)
        self.num_samples = num_samples
        self.seed = seed
        self.extractor = FeatureExtractor()
        test_images = scale_images(test_x)
        self.real = metrics.real_statistics(self.extractor, test_images,
                                            WEIGHTS)
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(train_x), min(num_samples, len(train_x)),
                          replace=False)
        self._train_images = scale_images(train_x[pick])
        self._floor = None

    def floor(self):
        """Real training images against the real test set: the best a
        generator could hope to score with this many samples."""
        if self._floor is None:
            self._floor = metrics.compare(*self.extractor(self._train_images),
                                          self.real)
        return self._floor

    def evaluate(self, generator, batch_size=1000, name="the generator",
                 noise="uniform"):
        """Numbers for num_samples images from fixed noise of the kind the
        generator was trained on (its own RNG, so a training run's random
        stream is left untouched)."""
        check_measurable(generator, name)
        noise = seeded_noise(self.seed, self.num_samples,
                             generator.input_shape[-1], noise)
        images = np.concatenate([
            np.asarray(generator.predict_on_batch(
                noise[start:start + batch_size].astype("float32")))
            for start in range(0, len(noise), batch_size)])
        return metrics.compare(*self.extractor(images), self.real)


def row(epoch, result):
    values = {"epoch": epoch, "fd": result["fd"], "kid": result["kid"],
              "kid_std": result["kid_std"],
              "class_entropy_bits": result["entropy"],
              "min_class_share": result["min_share"]}
    values.update({f"share_{c}": share
                   for c, share in enumerate(result["shares"])})
    return {key: (f"{value:.6g}" if isinstance(value, float) else value)
            for key, value in values.items()}


def append_csv(path, rows):
    """Append rows to a metrics CSV, writing the header on first use."""
    new = not os.path.isfile(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def summary(label, result):
    return ("{}: FD={:.3f}, KID={:.4f}±{:.4f}, class entropy={:.3f} bits, "
            "smallest class share={:.3f}".format(
                label, result["fd"], result["kid"], result["kid_std"],
                result["entropy"], result["min_share"]))


def log_metrics(evaluator, generator, epoch, output, noise="uniform",
                ema=False):
    """Append this epoch's numbers (first of all the real-data floor) to
    OUTPUT/metrics.csv (ema_metrics.csv for the averaged generator);
    returns the line to log and the numbers."""
    path = os.path.join(output, EMA_METRICS if ema else METRICS)
    rows = [] if os.path.isfile(path) else [
        row("real-data floor", evaluator.floor())]
    result = evaluator.evaluate(generator, noise=noise)
    try:
        append_csv(path, rows + [row(epoch, result)])
    except OSError as e:
        raise UserError(f"could not write {path} ({e}); make it writable, "
                        "then continue with --resume") from None
    label = "EMA metrics" if ema else "metrics"
    return "[INFO] " + summary(f"{label} at epoch {epoch}", result), result
