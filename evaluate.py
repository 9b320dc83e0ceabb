"""Measure sample quality of saved generators on Fashion-MNIST, offline.

    python evaluate.py output/generator.keras
    python evaluate.py output/checkpoints/ckpt-00000546.npz ... --csv m.csv
    python evaluate.py output/generator.keras output/generator_ema.keras

FD and KID use the features of this project's own Fashion-MNIST classifier
(pyimagesearch/quality/weights/): they are NOT Inception-FID and cannot be
compared with numbers in papers; compare them with the real-data floor printed
beside them, and with other runs of this project.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pyimagesearch.errors import (UserError, check_range,  # noqa: E402
                                  one_line_errors)
from pyimagesearch.gan.noise import NOISES  # noqa: E402
from pyimagesearch.run.cli import ArgumentParser  # noqa: E402
from pyimagesearch.run.config import MAX_SEED, check_seed  # noqa: E402


MAX_NUM = 70000       # as many as Fashion-MNIST has images


@one_line_errors
def main(argv=None):
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+",
                    help="generator .keras files or training checkpoints")
    ap.add_argument("--num", type=int, default=10000,
                    help=f"samples per generator, 2 to {MAX_NUM} (default "
                         "10000, the size of the test set)")
    ap.add_argument("--seed", type=int, default=0,
                    help=f"0 to {MAX_SEED} (default 0)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--csv", default=None, help="also append rows to this CSV")
    ap.add_argument("--ema", action="store_true",
                    help="for checkpoints of an --ema run: measure their "
                         "moving average of the generator")
    ap.add_argument("--noise", choices=NOISES, default=None,
                    help="the noise to feed (default: what each generator "
                         "was trained on, read from its run's checkpoint)")
    args = ap.parse_args(argv)
    check_range("--num", args.num, 2, MAX_NUM)
    check_seed(args.seed)
    for path in args.models:
        if not os.path.isfile(path):
            raise UserError(f"{path} does not exist")
    if args.csv and os.path.lexists(args.csv) and not os.path.isfile(
            args.csv):
        raise UserError(f"--csv {args.csv} is not a file to append to; "
                        "pick another path")
    from pyimagesearch.gan.saved import load_generator, trained_noise
    from pyimagesearch.quality.evaluator import (QualityEvaluator, append_csv,
                                                 check_measurable, row,
                                                 summary)
    generators = {path: load_generator(path, ema=args.ema)
                  for path in args.models}
    for path, generator in generators.items():
        check_measurable(generator, path)
    evaluator = QualityEvaluator(args.data_dir, args.num, args.seed)
    print("[INFO] features: shipped Fashion-MNIST classifier, not "
          "Inception; compare with the floor, not with papers")
    floor = evaluator.floor()
    print("[INFO] " + summary("real-data floor (train vs test)", floor))
    rows = [row("real-data floor", floor)]
    for path, generator in generators.items():
        label = f"{path} (averaged generator)" if args.ema else path
        result = evaluator.evaluate(generator, name=label,
                                    noise=args.noise or trained_noise(path))
        print("[INFO] " + summary(label, result))
        rows.append(row(label, result))
    if args.csv:
        append_csv(args.csv, rows)
        print(f"[INFO] rows appended to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
