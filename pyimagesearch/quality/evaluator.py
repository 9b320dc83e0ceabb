"""Evaluate a generator against real images: the sliced Wasserstein
distance (SWD) on any data, and for Fashion-MNIST also FD, KID and class
coverage with the shipped classifier, each beside its real-data floor."""
import os

import numpy as np

from ..data.datasets import scale_images, to_unit_range
from ..data.readers import load_fashion_mnist
from ..errors import UserError
from ..gan.noise import seeded_noise
from . import metrics, swd
from .classifier import WEIGHTS, FeatureExtractor

CLASSIFIER_FIELDS = ["fd", "kid", "kid_std", "class_entropy_bits",
                     "min_class_share"] + [f"share_{c}" for c in range(10)]
# a conditional generator's: how often the classifier sees the class asked
ACCURACY_FIELDS = ["accuracy"] + [f"accuracy_{c}" for c in range(10)]
FASHION_SHAPE = (28, 28, 1)


def fields(levels, classifier, conditional=False):
    """metrics.csv's columns: the SWD and its levels, the classifier's
    numbers for Fashion-MNIST (and for a conditional generator, the share
    of its images of the class asked for), and the epoch of the best so
    far."""
    return (["epoch", "swd"] + [f"swd_{size}" for size in levels]
            + (CLASSIFIER_FIELDS if classifier else [])
            + (ACCURACY_FIELDS if classifier and conditional else [])
            + ["best_epoch"])


def main_number(result):
    """What "best" means: FD where the classifier applies, else SWD."""
    return ("fd", result["fd"]) if "fd" in result else ("swd", result["swd"])


def check_measurable(generator, shape, name="the generator"):
    """A generator of the real images' shape, large enough for the SWD."""
    made = tuple(generator.output_shape[1:])
    if made != tuple(shape):
        raise UserError(
            f"{name} makes {'x'.join(map(str, made))} images and the real "
            f"images are {'x'.join(map(str, shape))}: measure generators "
            "of one size and channels together")
    swd.check_size(made[0])


def check_classifier():
    if not os.path.isfile(WEIGHTS):
        raise UserError(f"classifier weights {WEIGHTS} are missing; "
                        "train them with: python train_classifier.py")


class QualityEvaluator:
    """SWD against up to `num_samples` of the real images (all of a smaller
    set: as many generated images are made), and with `classifier` the
    Fashion-MNIST numbers too.  The floors are computed once.  With the
    real images' `real_labels`, conditional generators are measured too:
    asked for the classes of the real images they are compared with."""

    def __init__(self, real_images, num_samples=10000, seed=0,
                 classifier=None, real_labels=None):
        self.seed = seed
        rng = np.random.default_rng(seed)
        count = min(num_samples, len(real_images))
        if count < 4:
            raise UserError(f"the SWD needs at least 4 real images (its "
                            f"floor compares two halves), got {count}")
        pick = np.sort(rng.choice(len(real_images), count, replace=False))
        self.real = to_unit_range(real_images[pick])
        self.real_classes = (None if real_labels is None
                             else np.asarray(real_labels)[pick])
        self.shape = self.real.shape[1:]
        swd.check_size(self.shape[0])
        self.levels = swd.levels(self.shape[0])
        self.classifier = classifier
        self._floor = None

    def floor(self):
        """Two disjoint halves of the real images against each other (and
        the classifier's floor): what real images score."""
        if self._floor is None:
            self._floor = swd_numbers(swd.real_floor(self.real, self.seed))
            if self.classifier is not None:
                self._floor.update(self.classifier.floor(
                    self.real_classes is not None))
        return self._floor

    def evaluate(self, generator, batch_size=1000, name="the generator",
                 noise="uniform"):
        """The numbers for as many images as there are real ones, from
        fixed noise of the kind the generator was trained on (its own RNG,
        so a training run's random stream is left untouched)."""
        return self.evaluate_each([generator], batch_size, [name], noise)[0]

    def evaluate_each(self, generators, batch_size=1000, names=None,
                      noise="uniform"):
        """evaluate() of each generator, the same numbers, with the SWD's
        real side computed once for all (a training run measures G and
        its average together)."""
        names = names or ["the generator"] * len(generators)
        made = [self.generate(generator, batch_size, name, noise)
                for generator, name in zip(generators, names, strict=True)]
        results = [swd_numbers(result) for result in swd.swd_each(
            self.real, [images[:len(self.real)].astype("float32", copy=False)
                        for images, _ in made], self.seed)]
        if self.classifier is not None:
            count = self.classifier.num_samples
            for result, (images, classes) in zip(results, made):
                result.update(self.classifier.compare(
                    images[:count],
                    None if classes is None else classes[:count]))
        return results

    def generate(self, generator, batch_size, name, noise):
        """The images to measure `generator` by, and their classes (None
        unless it is conditional)."""
        from ..gan.models import class_names
        from ..gan.trainer import compiled_inference
        check_measurable(generator, self.shape, name)
        conditional = class_names(generator) is not None
        if conditional and self.real_classes is None:
            raise UserError(f"{name} is a conditional generator: measure it "
                            "against labelled images (--conditional)")
        # the classifier's numbers keep their own count (FD depends on it;
        # evaluator_for caps it at the number of real images)
        count = (self.classifier.num_samples if self.classifier is not None
                 else len(self.real))
        total = max(count, len(self.real))
        shape = generator.input_shape
        noise = seeded_noise(self.seed, total,
                             (shape[0] if conditional else shape)[-1], noise)
        # each generated image of the class of the real one it is
        # compared with, repeated past the real images
        classes = (np.resize(self.real_classes, total).astype("int32")
                   if conditional else None)

        # a compiled call, not predict_on_batch: that of a generator built
        # under --distribute multi-worker would wait for the other workers
        run = compiled_inference(generator)

        def batch(start):
            inputs = noise[start:start + batch_size].astype("float32")
            if conditional:
                inputs = [inputs, classes[start:start + batch_size, None]]
            return np.asarray(run(inputs))
        images = np.concatenate([batch(start)
                                 for start in range(0, total, batch_size)])
        return images, classes

    def fields(self):
        return fields(self.levels, self.classifier is not None,
                      self.real_classes is not None)


def swd_numbers(result):
    return {"swd": result["swd"], "swd_levels": result["levels"]}


class ClassifierMetrics:
    """FD, KID and class coverage on the shipped Fashion-MNIST classifier's
    features; the real test set's statistics are cached on disk."""

    def __init__(self, data_dir=None, num_samples=10000, seed=0):
        check_classifier()
        ((train_x, train_y), (test_x, _)), _ = load_fashion_mnist(data_dir)
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
        self._train_labels = np.asarray(train_y[pick], dtype=np.int64)
        self._floor = None

    def floor(self, conditional=False):
        """Real training images against the real test set: the best a
        generator could hope to score with this many samples (and for a
        conditional one, how often the classifier names real images'
        own class)."""
        if self._floor is None:
            self._floor = self.compare(self._train_images,
                                       self._train_labels)
        floor = dict(self._floor)
        if not conditional:
            del floor["accuracy"], floor["class_accuracy"]
        return floor

    def compare(self, images, asked=None):
        """The numbers of generated `images`; with the classes they were
        `asked` for, how often the classifier sees that class, overall and
        per class asked."""
        features, seen = self.extractor(images)
        result = metrics.compare(features, seen, self.real)
        if asked is not None:
            asked = np.asarray(asked)
            hits = np.asarray(seen) == asked
            result["accuracy"] = float(hits.mean())
            result["class_accuracy"] = [
                float(hits[asked == number].mean()) if np.any(
                    asked == number) else float("nan")
                for number in range(10)]
        return result


def evaluator_for(real_images, dataset, data_dir=None, num_samples=10000,
                  seed=0, real_labels=None):
    """The evaluator for a data set's real images: with the classifier's
    numbers for Fashion-MNIST at its own 28x28x1; with `real_labels`, for
    conditional generators.  Every number measures at most as many images
    as there are real ones (a run on 640 images makes 640, not 10,000)."""
    num_samples = min(num_samples, len(real_images))
    classifier = None
    if dataset == "fashion_mnist" and real_images.shape[1:] == FASHION_SHAPE:
        classifier = ClassifierMetrics(data_dir, num_samples, seed)
    return QualityEvaluator(real_images, num_samples, seed, classifier,
                            real_labels)


def summary(label, result):
    levels = ", ".join(f"{size}px {value:.1f}"
                       for size, value in result["swd_levels"].items())
    text = f"{label}: SWD={result['swd']:.2f} (x1000; {levels})"
    if "fd" in result:
        text += (", FD={:.3f}, KID={:.4f}±{:.4f}, class entropy={:.3f} bits, "
                 "smallest class share={:.3f}".format(
                     result["fd"], result["kid"], result["kid_std"],
                     result["entropy"], result["min_share"]))
    if "accuracy" in result:
        text += ", of the class asked={:.1%}".format(result["accuracy"])
    return text
