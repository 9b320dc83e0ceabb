"""Sample a trained generator: a montage, single images, or a walk through
latent space between two seeds.

    python generate.py output/generator.keras --output samples --num 64 --seed 1
    python generate.py output --output samples     # the run's best generator
    python generate.py output/generator.keras --output samples --interpolate 3 7
    python generate.py cond/generator.keras --output samples --class Sneaker
"""
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pyimagesearch.bounded import check_regular  # noqa: E402
from pyimagesearch.errors import (UserError, check_range,  # noqa: E402
                                  one_line_errors)
from pyimagesearch.files import readable_name  # noqa: E402
from pyimagesearch.data.labels import class_column  # noqa: E402
from pyimagesearch.gan.noise import seeded_noise  # noqa: E402
from pyimagesearch.gan.noise import NOISES  # noqa: E402
from pyimagesearch.run.cli import (ArgumentParser,  # noqa: E402
                                   check_output_dir)
from pyimagesearch.runfiles.config import MAX_SEED, check_seed  # noqa: E402
from pyimagesearch.runfiles.metrics_log import generator_path  # noqa: E402
from pyimagesearch.runfiles.montage import (build_montage,  # noqa: E402
                                       for_imwrite, from_unit_range,
                                       write_image)
from pyimagesearch.runfiles.outputs import EMA_PREFIX, GENERATOR_EMA  # noqa: E402

MAX_NUM, MAX_STEPS, MAX_SCALE = 10000, 1000, 16
MAX_SIDE = 16384      # pixels a side of the picture written, at most


def parse_args(argv):
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="generator.keras, generator_ema.keras, "
                                  "a checkpoint .npz, or a run's folder: "
                                  "then the generator to sample (the best "
                                  "kept, else the averaged, else the last)")
    ap.add_argument("-o", "--output", required=True, help="folder to write to")
    ap.add_argument("--num", type=int, default=None,
                    help=f"samples, 1 to {MAX_NUM} (default 64; of a "
                         "conditional generator: of each class, default 10)")
    ap.add_argument("--seed", type=int, default=0,
                    help=f"0 to {MAX_SEED} (default 0)")
    ap.add_argument("--singles", action="store_true",
                    help="also write each sample as its own PNG")
    ap.add_argument("--interpolate", type=int, nargs=2,
                    metavar=("SEED_A", "SEED_B"),
                    help="write a strip walking from SEED_A's latent vector "
                         "to SEED_B's instead of samples")
    ap.add_argument("--steps", type=int, default=10,
                    help=f"images in the interpolation strip, 2 to "
                         f"{MAX_STEPS} (default 10)")
    ap.add_argument("--scale", type=int, default=2,
                    help=f"enlarge each image this many times, 1 to "
                         f"{MAX_SCALE} (default 2)")
    ap.add_argument("--ema", action="store_true",
                    help="with a checkpoint of an --ema run: sample its "
                         "moving average of the generator")
    ap.add_argument("--class", dest="classes", action="append",
                    metavar="NAME_OR_INDEX",
                    help="of a conditional generator (--conditional): the "
                         "class to draw, by name or number; repeat it for "
                         "several, or 'all' (default: all, one a row)")
    ap.add_argument("--noise", choices=NOISES, default=None,
                    help="the noise to feed (default: what the generator "
                         "was trained on, read from its run's checkpoint; "
                         "uniform if there is none)")
    args = ap.parse_args(argv)
    if args.num is not None:
        check_range("--num", args.num, 1, MAX_NUM)
    check_range("--scale", args.scale, 1, MAX_SCALE)
    check_range("--steps", args.steps, 2, MAX_STEPS)
    check_seed(args.seed)
    if args.interpolate:
        for seed in args.interpolate:
            check_seed(seed, "--interpolate")
    check_output_dir(args.output)
    args.model = generator_path(args.model)
    if not os.path.lexists(args.model):
        raise UserError(f"{args.model} does not exist; train first with "
                        "python dcgan_fashion_mnist.py --output output")
    check_regular(args.model, "model")
    return args


class Sampler:
    """A loaded generator, the noise it was trained on, and how its
    pictures are named and enlarged."""

    def __init__(self, args):
        from pyimagesearch.runfiles.saved import (class_names, load_generator,
                                             trained_noise)
        self.generator = load_generator(args.model, ema=args.ema)
        self.class_names = class_names(self.generator)
        self.classes = pick_classes(self.class_names, args.classes,
                                    args.model)
        shape = self.generator.input_shape
        self.latent_dim = (shape[0] if self.classes else shape)[-1]
        self.noise = args.noise or trained_noise(args.model)
        self.scale, self.output = args.scale, args.output
        # an averaged generator's pictures never overwrite the generator's
        self.prefix = EMA_PREFIX if args.ema or os.path.basename(
            args.model) == GENERATOR_EMA else ""

    def render(self, noise, classes=None):
        inputs = noise.astype("float32")
        if classes is not None:
            inputs = [inputs, class_column(classes)]
        return np.asarray(self.generator.predict_on_batch(inputs))

    def named(self, classes):
        return ", ".join(readable_name(self.class_names[number])
                         for number in classes)

    def suffix(self):
        """Picture names say which classes they hold, so that drawing
        other classes into the same folder keeps them apart."""
        if not self.classes:
            return ""
        if self.classes == list(range(len(self.class_names))):
            return "_all"
        return "_class" + "-".join(map(str, self.classes))

    def seeded(self, seed, count):
        return seeded_noise(seed, count, self.latent_dim, self.noise)

    def check_grid(self, columns, rows):
        """Before anything is generated: the picture's size."""
        height, width = self.generator.output_shape[1:3]
        width *= columns * self.scale
        height *= rows * self.scale
        if max(width, height) > MAX_SIDE:
            raise UserError(f"the picture would be {width}x{height} pixels, "
                            f"more than {MAX_SIDE} a side: lower --scale, "
                            "--num or --steps")

    def write(self, name, image):
        path = os.path.join(self.output, self.prefix + name)
        write_image(path, cv2.resize(image, None, fx=self.scale,
                                     fy=self.scale,
                                     interpolation=cv2.INTER_NEAREST))
        return path


def pick_classes(names, asked, model):
    """The class numbers to draw: those --class asks for (names, numbers
    or 'all'), every class of a conditional generator when it is not
    given; None for an unconditional generator."""
    if names is None:
        if asked:
            raise UserError(f"{model} is an unconditional generator: it "
                            "draws no class of its own; leave out --class "
                            "(train with --conditional to choose classes)")
        return None
    if not asked:
        print(f"[INFO] a conditional generator of {len(names)} classes: "
              "drawing each in turn, one a row (--class NAME picks)")
        return list(range(len(names)))
    picked = []
    for name in asked:
        number = class_number(names, name)
        if number is None:
            raise UserError(
                f"--class {name} is not one of this generator's classes: "
                + ", ".join(f"{number} {value}"
                            for number, value in enumerate(names)))
        picked.extend(range(len(names)) if number == "all" else [number])
    return list(dict.fromkeys(picked))        # each once, in order asked


def class_number(names, name):
    """A class by its exact name, else by a name in any case (if only one
    matches), else by its number; 'all' for every class; None if none."""
    if name in names:
        return names.index(name)
    matches = [number for number, value in enumerate(names)
               if value.lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    if name.lower() == "all":
        return "all"
    if name.isascii() and name.isdecimal() and int(name) < len(names):
        return int(name)
    return None


def interpolate(sampler, seed_a, seed_b, steps):
    classes = sampler.classes or [None]
    sampler.check_grid(steps, len(classes))
    a, b = (sampler.seeded(seed, 1)[0] for seed in (seed_a, seed_b))
    weights = np.linspace(0, 1, steps)[:, None]
    walk = (1 - weights) * a + weights * b
    images = np.concatenate([
        sampler.render(walk, None if number is None else [number] * steps)
        for number in classes])
    path = sampler.write(f"interpolation_{seed_a}_{seed_b}"
                         f"{sampler.suffix()}.png",
                         build_montage(images, (steps, len(classes))))
    if sampler.classes:
        print(f"[INFO] {steps}-step interpolation of each class "
              f"({sampler.named(sampler.classes)}, one a row) written to "
              f"{path}")
    else:
        print(f"[INFO] {steps}-step interpolation written to {path}")


def samples(sampler, seed, num, singles):
    if sampler.classes:
        # the same noise in every class's row: the class changes down a
        # column, the style stays
        num = num or 10
        columns, rows = num, len(sampler.classes)
        noise = np.tile(sampler.seeded(seed, num), (rows, 1))
        classes = np.repeat(sampler.classes, num)
    else:
        num = num or 64
        columns = math.ceil(math.sqrt(num))
        rows = math.ceil(num / columns)
        noise, classes = sampler.seeded(seed, num), None
    sampler.check_grid(columns, rows)
    images = sampler.render(noise, classes)
    path = sampler.write(f"samples_seed{seed}{sampler.suffix()}.png",
                         build_montage(images, (columns, rows)))
    if sampler.classes:
        print(f"[INFO] {num} samples of each class "
              f"({sampler.named(sampler.classes)}, one a row) written to "
              f"{path}")
    else:
        print(f"[INFO] {num} samples written to {path}")
    if singles:
        for index, image in enumerate(from_unit_range(images)):
            name = (f"sample_seed{seed}_{index:04d}.png" if classes is None
                    else f"sample_seed{seed}_class{classes[index]}_"
                         f"{index % num:04d}.png")
            sampler.write(name, for_imwrite(image))
        print(f"[INFO] and one PNG each in {sampler.output}")


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    sampler = Sampler(args)
    if args.interpolate:
        interpolate(sampler, *args.interpolate, args.steps)
    else:
        samples(sampler, args.seed, args.num, args.singles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
