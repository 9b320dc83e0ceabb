"""Measure sample quality of saved generators against real images, offline.

    python evaluate.py output/generator.keras
    python evaluate.py output/checkpoints/ckpt-00000546.npz ... --csv m.csv
    python evaluate.py icons/generator_best.keras --dataset path/to/icons
    python evaluate.py icons/generator_best.keras --nearest icons/nearest.png

Every data set gets the sliced Wasserstein distance (SWD, ProGAN's, on
Laplacian-pyramid patches; lower is better) against as many real images as
generated ones.  Fashion-MNIST also gets FD and KID on the features of this
project's own classifier (pyimagesearch/quality/weights/): NOT Inception-FID,
not comparable with papers.  Compare each with the real-data floor printed
beside it, and with other runs of this project.  --nearest: is the
generator copying its training images?
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pyimagesearch.bounded import check_regular  # noqa: E402
from pyimagesearch.data.datasets import check_dataset  # noqa: E402
from pyimagesearch.errors import (UserError, check_positive,  # noqa: E402
                                  check_range, one_line_errors)
from pyimagesearch.gan.noise import NOISES  # noqa: E402
from pyimagesearch.run.cli import ArgumentParser  # noqa: E402
from pyimagesearch.runfiles.config import MAX_SEED, check_seed  # noqa: E402


MAX_NUM = 70000       # as many as Fashion-MNIST has images
# --nearest's montage: this many samples, each beside its nearest image
NEAREST_PAIRS = 32


def real_data_evaluator(args, path, generator):
    """The evaluator for the real images the generators are measured
    against: --dataset, else the first generator's run's data (and
    --limit), at the size and channels it makes."""
    from pyimagesearch.data.datasets import load_dataset, load_labelled
    from pyimagesearch.runfiles.saved import class_names, trained_settings
    from pyimagesearch.quality.evaluator import evaluator_for
    from pyimagesearch.quality.swd import check_size
    dataset, limit = args.dataset, args.limit
    (_, size, _, channels) = generator.output_shape
    if dataset is None:
        settings = trained_settings(path, "pass --dataset to do without it")
        if not settings and (size, channels) != (28, 1):
            raise UserError(f"no checkpoint beside {path} says what it was "
                            "trained on: pass --dataset (and --limit) for "
                            "the real images to measure it against")
        dataset = settings.get("dataset", "fashion_mnist")
        limit = limit or settings.get("limit")
        check_dataset(dataset)
    check_size(size)
    names, labels = class_names(generator), None
    if names is None:
        images, source, _ = load_dataset(dataset, args.data_dir, limit, size,
                                         channels)
    else:       # a conditional generator is asked for the real classes
        images, source, _, labels, data_names = load_labelled(
            dataset, args.data_dir, limit, size, channels)
        if list(data_names) != list(names):
            raise UserError(f"{path} draws the classes {', '.join(names)}; "
                            f"{source} holds {', '.join(data_names)}: pass "
                            "--dataset with the images it was trained on")
    print(f"[INFO] real images: {len(images)} from {source}")
    evaluator = evaluator_for(images, dataset, args.data_dir, args.num,
                              args.seed, real_labels=labels)
    evaluator.training_images = images
    return evaluator


def check_csv_columns(path, columns):
    """An existing --csv must take these columns: refused before minutes
    of measuring, not after."""
    from pyimagesearch.runfiles.metrics_log import csv_header
    if not os.path.isfile(path):
        return
    header = csv_header(path)
    if header is not None and header != columns:
        raise UserError(f"--csv {path} holds other columns than this "
                        "measurement writes (another data set's, or an "
                        "older version's): pick another path")


def build_parser():
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+",
                    help="generator .keras files, training checkpoints, or "
                         "run folders (each: the generator to sample, the "
                         "best kept, else the averaged, else the last)")
    ap.add_argument("--num", type=int, default=10000,
                    help=f"real and generated images per measurement, 2 to "
                         f"{MAX_NUM}, at most as many as there are real ones "
                         "(default 10000, Fashion-MNIST's test set's size)")
    ap.add_argument("--seed", type=int, default=0,
                    help=f"0 to {MAX_SEED} (default 0)")
    ap.add_argument("-d", "--dataset", default=None,
                    help="the real images: fashion_mnist, mnist, cifar10 or "
                         "a folder (default: the first generator's run's, "
                         "with its --limit; fashion_mnist if unknown)")
    ap.add_argument("--limit", type=int, default=None,
                    help="the first N real images only (default: the run's "
                         "--limit when --dataset is not given)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--csv", default=None, help="also append rows to this CSV")
    ap.add_argument("--ema", action="store_true",
                    help="for checkpoints of an --ema run: measure their "
                         "moving average of the generator")
    ap.add_argument("--nearest", default=None, metavar="PNG",
                    help="also write to PNG a montage of generated images, "
                         "each beside its nearest real image (pixel "
                         "distance), and print the median distance of "
                         "samples to their nearest real image beside that "
                         "of held-out real images: much nearer means "
                         "copying (first model only)")
    ap.add_argument("--noise", choices=NOISES, default=None,
                    help="the noise to feed (default: what each generator "
                         "was trained on, read from its run's checkpoint)")
    return ap


def check_args(args):
    """The flags and the files named, before anything is loaded."""
    check_range("--num", args.num, 2, MAX_NUM)
    check_positive("--limit", args.limit)
    check_seed(args.seed)
    if args.dataset is not None:
        check_dataset(args.dataset)
    from pyimagesearch.runfiles.metrics_log import generator_path
    args.models = [generator_path(path) for path in args.models]
    for path in args.models:
        if not os.path.lexists(path):
            raise UserError(f"{path} does not exist")
        check_regular(path, "model")
    if args.csv and os.path.lexists(args.csv) and not os.path.isfile(
            args.csv):
        raise UserError(f"--csv {args.csv} is not a file to append to; "
                        "pick another path")
    if args.nearest is not None:
        check_png_path(args.nearest)


def check_png_path(path):
    """--nearest's montage: a .png in a folder that exists, not a folder."""
    if not path.lower().endswith(".png"):
        raise UserError(f"--nearest {path}: name a .png file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or os.path.isdir(path):
        raise UserError(f"--nearest {path}: {folder} is not a folder to "
                        "write it in")


def load_generators(args):
    """{path: generator} of the models named, all checked measurable
    together (the same image shape, the same classes) before measuring."""
    from pyimagesearch.gan.models import class_names
    from pyimagesearch.quality.evaluator import check_measurable
    from pyimagesearch.runfiles.saved import load_generator
    generators = {path: load_generator(path, ema=args.ema)
                  for path in args.models}
    first = args.models[0]
    shape = generators[first].output_shape[1:]
    for path, generator in generators.items():
        check_measurable(generator, shape, path)
        if class_names(generator) != class_names(generators[first]):
            raise UserError(f"{path} and {first} draw different classes "
                            "(or one draws none): measure conditional and "
                            "unconditional generators apart")
    return generators


@one_line_errors
def main(argv=None):
    args = build_parser().parse_args(argv)
    check_args(args)
    from pyimagesearch.quality.evaluator import summary
    from pyimagesearch.runfiles.metrics_log import append_csv, row
    from pyimagesearch.runfiles.saved import trained_noise
    generators = load_generators(args)
    first = args.models[0]
    evaluator = real_data_evaluator(args, first, generators[first])
    if args.csv:
        check_csv_columns(args.csv, evaluator.fields())
    print("[INFO] SWD: x1000, per pyramid level and their mean; lower is "
          "better, the floor is two halves of the real images")
    if evaluator.classifier is not None:
        print("[INFO] FD, KID: shipped Fashion-MNIST classifier's features, "
              "not Inception; compare with the floor, not with papers")
    floor = evaluator.floor()
    print("[INFO] " + summary("real-data floor", floor))
    rows = [row("real-data floor", floor)]
    for path, generator in generators.items():
        label = f"{path} (averaged generator)" if args.ema else path
        result = evaluator.evaluate(generator, name=label,
                                    noise=args.noise or trained_noise(path))
        print("[INFO] " + summary(label, result))
        rows.append(row(label, result))
    if args.csv:
        append_csv(args.csv, rows, evaluator.fields())
        print(f"[INFO] rows appended to {args.csv}")
    if args.nearest is not None:
        nearest_montage(args, first, generators[first],
                        evaluator.training_images)
    return 0


def nearest_montage(args, path, generator, real_images):
    """--nearest: samples of `generator` beside their nearest real image,
    and the median distances that say whether it copies."""
    from pyimagesearch.data.datasets import to_unit_range
    from pyimagesearch.gan.noise import seeded_noise
    from pyimagesearch.gan.models import class_names
    from pyimagesearch.quality.nearest import copying_report, pairs
    from pyimagesearch.runfiles.montage import build_montage, write_image
    from pyimagesearch.runfiles.saved import trained_noise
    import numpy as np
    count = min(args.num, len(real_images))
    noise = seeded_noise(args.seed, count, noise=args.noise
                         or trained_noise(path))
    inputs = noise
    names = class_names(generator)
    if names is not None:   # the classes in turn
        inputs = [noise, np.arange(count).reshape(-1, 1) % len(names)]
    generated = generator.predict(inputs, batch_size=500, verbose=0)
    report = copying_report(generated, to_unit_range(real_images),
                            args.seed)
    shown = min(NEAREST_PAIRS, count)
    write_image(args.nearest, build_montage(pairs(generated, report, shown),
                                            (8, -(-2 * shown // 8))))
    print("[INFO] nearest real image (RMS pixel distance in [-1, 1]): "
          "median {:.4f} for {} samples, {:.4f} for {} held-out real "
          "images{}".format(report["samples"], count, report["held_out"],
                            report["held_out_count"],
                            "; the samples are much nearer: it may be "
                            "copying" if report["samples"]
                            < 0.5 * report["held_out"] else ""))
    print(f"[INFO] {shown} samples, each beside its nearest real image: "
          f"{args.nearest}")


if __name__ == "__main__":
    sys.exit(main())
