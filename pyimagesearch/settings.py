"""Command-line settings: parsing, checks that need no data, and the rules
for what a resumed run may change."""
import argparse
import os
import tempfile

from .errors import UserError

DEFAULTS = {"epochs": 50, "batch_size": 128, "limit": None, "seed": None,
            "mixed_precision": False, "shared_optimizer": False}
# settings a resumed run must share with its checkpoint (--epochs may rise)
FIXED_ON_RESUME = ("batch_size", "limit", "seed", "mixed_precision",
                   "shared_optimizer")


def build_parser():
    ap = argparse.ArgumentParser(
        description="Train the PyImageSearch DCGAN on Fashion-MNIST.")
    ap.add_argument("-o", "--output", required=True,
                    help="path to output directory")
    ap.add_argument("-e", "--epochs", type=int, default=None,
                    help="# epochs to train for (default 50)")
    ap.add_argument("-b", "--batch-size", type=int, default=None,
                    help="batch size for training (default 128)")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed Python, NumPy and Keras and make ops "
                         "deterministic (default: unseeded, as the tutorial)")
    ap.add_argument("--limit", type=int, default=None,
                    help="train on the first N of the 70,000 images only")
    ap.add_argument("--data-dir", default=None,
                    help="folder with the four Fashion-MNIST IDX .gz files "
                         "(default: Keras' cache, then "
                         "/usr/share/datasets/fashion-mnist)")
    ap.add_argument("--mixed-precision", action="store_true", default=None,
                    help="compute in bf16 (fp16 on pre-Ampere GPUs), keep "
                         "float32 weights; needs a CPU with bf16 or a GPU")
    ap.add_argument("--metrics-every", type=int, default=None, metavar="N",
                    help="every N epochs (and at the end) append FD, KID and "
                         "class coverage to OUTPUT/metrics.csv (off by "
                         "default; needs the shipped classifier)")
    ap.add_argument("--shared-optimizer", action="store_true", default=None,
                    help="reproduce the 2020 code literally: one Adam for the "
                         "discriminator and the GAN, so its learning-rate "
                         "decay runs twice as fast (default: an Adam each, "
                         "as the tutorial's text says)")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the newest checkpoint in --output")
    ap.add_argument("--overwrite", action="store_true",
                    help="start afresh in an --output that holds another "
                         "run: delete that run's montages, plots, "
                         "checkpoints, generator.keras and metrics.csv first "
                         "(nothing else)")
    ap.add_argument("--pause-after", type=int, default=None, metavar="N",
                    help="stop cleanly after N more epochs (resume later "
                         "with --resume)")
    ap.add_argument("--keep-checkpoints", type=int, default=3, metavar="K",
                    help="keep the newest K checkpoints (0 keeps all; "
                         "default 3)")
    return ap


def check_positive(name, value, allow_none=True, allow_zero=False):
    if value is None and allow_none:
        return
    if value is None or value < (0 if allow_zero else 1):
        least = "0 or more" if allow_zero else "a positive integer"
        raise UserError(f"{name} must be {least}, got {value}")


def check_args(args):
    """Every check that needs neither the data nor TensorFlow."""
    check_positive("--epochs", args.epochs)
    check_positive("--batch-size", args.batch_size)
    check_positive("--limit", args.limit)
    check_positive("--pause-after", args.pause_after)
    check_positive("--metrics-every", args.metrics_every)
    check_positive("--keep-checkpoints", args.keep_checkpoints,
                   allow_none=False, allow_zero=True)
    if (args.limit is not None and args.batch_size is not None
            and args.batch_size > args.limit):
        raise UserError(f"--batch-size {args.batch_size} is larger than "
                        f"--limit {args.limit}: no full batch to train on; "
                        "lower --batch-size or raise --limit")
    if args.resume and args.overwrite:
        raise UserError("--resume continues the run in --output and "
                        "--overwrite deletes it: pass one of them")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UserError(f"--data-dir {args.data_dir} is not a folder")
    check_output_dir(args.output)


def check_output_dir(output):
    """Create --output if missing and prove it is writable."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f"--output {output} is a file, not a folder; "
                        "pick another path")
    try:
        os.makedirs(output, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UserError(f"--output {output} cannot be written "
                        f"({e.strerror}); pick a writable folder") from None


def resolve_settings(args, checkpoint_settings=None):
    """The run's settings: flags given, else the checkpoint's, else the
    tutorial's defaults.  On resume, refuse changes that would make the
    continued run a different run."""
    given = {key: getattr(args, key) for key in DEFAULTS}
    if checkpoint_settings is None:
        return {key: DEFAULTS[key] if value is None else value
                for key, value in given.items()}
    settings = {}
    for key, value in given.items():
        saved = checkpoint_settings.get(key, DEFAULTS[key])
        if value is not None and value != saved and key in FIXED_ON_RESUME:
            flag = "--" + key.replace("_", "-")
            raise UserError(f"the checkpoint was made with {flag} {saved}, "
                            f"not {value}: resume with {flag} {saved} (or "
                            f"leave it out); only --epochs may change, to "
                            "train longer")
        settings[key] = saved if value is None else value
    return settings
