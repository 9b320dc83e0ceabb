"""The training script's command line: the parser, the checks that need
neither data nor TensorFlow, and RunOptions, the flags that say where a
run writes and how it reports (what the run is: config.RunConfig)."""
import argparse
import dataclasses
import importlib.util
import os
import tempfile

from ..data.datasets import check_dataset, is_folder
from ..errors import UserError, check_positive
from ..files import readable_name
from ..gan.noise import NOISES
from ..gan.architectures import ARCHS
from ..gan.losses import LOSSES
from ..runfiles.checkpoint import SUBDIR
from ..runfiles.config import (CONDITIONINGS, MAX_EPOCHS, MAX_MINUTES,
                               RECIPES, STEPS, check_values, given_flags)
from ..runfiles.outputs import TENSORBOARD
from .distribute import (DEFAULT_WORKER_TIMEOUT, MAX_WORKER_TIMEOUT,
                         MIN_WORKER_TIMEOUT, STRATEGIES, check_distribute,
                         is_chief)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The flags that are not part of the run: they may differ on every
    resume and are never saved."""
    output: str
    data_dir: str = None
    resume: bool = False
    overwrite: bool = False
    pause_after: int = None
    keep_checkpoints: int = 3
    metrics_every: int = None
    tensorboard: bool = False
    distribute: str = None
    cpu_replicas: int = None
    minutes: float = None
    worker_timeout: float = None

    @property
    def writes_outputs(self):
        """False for a multi-worker run's workers other than the chief."""
        return is_chief(self.distribute)

    @classmethod
    def from_flags(cls, args):
        return cls(**{field.name: getattr(args, field.name)
                      for field in dataclasses.fields(cls)})

    def reporting_flags(self):
        """' --metrics-every 2 --tensorboard': how this run reports and
        where it trains, which a resume must be told again ('' when as by
        default)."""
        return (f" --metrics-every {self.metrics_every}"
                if self.metrics_every else "") + (
            " --tensorboard" if self.tensorboard else "") + (
            f" --distribute {self.distribute}" if self.distribute else "") + (
            f" --cpu-replicas {self.cpu_replicas}" if self.cpu_replicas
            else "") + (
            f" --minutes {self.minutes:g}" if self.minutes else "")


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors (a missing value, `--epochs abc`) are one
    [ERROR] line like every other bad input, not a usage block."""

    def error(self, message):
        raise UserError(f"{message} (see --help)")


def build_parser():
    ap = ArgumentParser(
        description="Train the PyImageSearch DCGAN on Fashion-MNIST, MNIST, "
                    "CIFAR-10 or a folder of your own images.")
    ap.add_argument("-o", "--output", required=True,
                    help="path to output directory")
    ap.add_argument("-d", "--dataset", default=None,
                    help="fashion_mnist (default), mnist, cifar10, or a "
                         "folder of images (.jpg .jpeg .png .bmp .tif .tiff, "
                         "searched recursively)")
    ap.add_argument("--image-size", type=int, default=None, metavar="S",
                    help="train at S x S pixels, a multiple of 4 from 8 to "
                         "1024 (default: the dataset's own, 28 for the "
                         "MNISTs, 32 for CIFAR-10, 32 for a folder)")
    ap.add_argument("--channels", type=int, default=None, metavar="C",
                    help="1 (grey) or 3 (colour) (default: the dataset's; "
                         "for a folder 3, or 1 if every image is grey)")
    ap.add_argument("-e", "--epochs", type=int, default=None,
                    help="# epochs to train for (default 50)")
    ap.add_argument("--kimg", type=float, default=None, metavar="N",
                    help="train for N thousand images shown instead of "
                         "--epochs, rounded up to whole epochs (StyleGAN's "
                         "unit; a resume may raise it)")
    ap.add_argument("--minutes", type=float, default=None, metavar="M",
                    help="stop cleanly after M minutes of training, at a "
                         "step boundary, with a checkpoint, the montages, "
                         "the plots and the generator; --resume --minutes M "
                         "trains M more (the run still ends at its last "
                         "epoch, if that comes first)")
    ap.add_argument("-b", "--batch-size", type=int, default=None,
                    help="batch size for training (default 128)")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed Python, NumPy and Keras and make ops "
                         "deterministic (default: unseeded, as the tutorial)")
    ap.add_argument("--limit", type=int, default=None,
                    help="train on the first N images only (of a folder: "
                         "the first N files in sorted order)")
    ap.add_argument("--data-dir", default=None,
                    help="folder holding a named dataset's files: the four "
                         "IDX .gz files (Fashion-MNIST, MNIST), mnist.npz, "
                         "or cifar-10-binary.tar.gz (default for "
                         "Fashion-MNIST: "
                         "$DCGAN_DATA_DIR, then Keras' cache, then "
                         "/usr/share/datasets/fashion-mnist, then Keras' "
                         "download)")
    ap.add_argument("--mixed-precision", action="store_true", default=None,
                    help="compute in bf16 (fp16 on pre-Ampere GPUs), keep "
                         "float32 weights; needs a CPU with bf16 or a GPU")
    ap.add_argument("--metrics-every", type=int, default=None, metavar="N",
                    help="every N epochs (and at the end) append the sliced "
                         "Wasserstein distance (and for Fashion-MNIST FD, KID "
                         "and class coverage) to OUTPUT/metrics.csv, and "
                         "keep the best generator (off by default)")
    ap.add_argument("--shared-optimizer", action="store_true", default=None,
                    help="reproduce the 2020 code literally: one Adam for the "
                         "discriminator and the GAN, so its learning-rate "
                         "decay runs twice as fast (default: an Adam each, "
                         "as the tutorial's text says)")
    tips = ap.add_argument_group(
        "GAN tips", "opt-in changes from the tutorial's recipe (Radford et "
        "al., Chollet), off by default; fixed for the life of a run")
    tips.add_argument("--noise", choices=NOISES, default=None,
                      help="the generator's input distribution (default: "
                           "uniform in [-1, 1], as the tutorial)")
    tips.add_argument("--disc-dropout", type=float, default=None,
                      metavar="P", help="dropout rate after each of the "
                      "discriminator's LeakyReLUs (default 0: none)")
    tips.add_argument("--label-smoothing", type=float, default=None,
                      metavar="X", help="train the discriminator on real "
                      "labels of 1 - X (default 0)")
    tips.add_argument("--label-noise", type=float, default=None, metavar="P",
                      help="flip a fraction P of the discriminator's labels "
                           "(default 0)")
    tips.add_argument("--disc-lr", type=float, default=None, metavar="LR",
                      help="the discriminator's learning rate (default 2e-4)")
    tips.add_argument("--gan-lr", type=float, default=None, metavar="LR",
                      help="the generator's (GAN model's) learning rate "
                           "(default 2e-4)")
    tips.add_argument("--ema", type=float, default=None, metavar="DECAY",
                      help="also keep an exponential moving average of the "
                           "generator's weights with this decay (e.g. "
                           "0.999): ema_ montages, generator_ema.keras")
    data_efficient = ap.add_argument_group(
        "small data sets", "for a few thousand images of your own: not in "
        "the tutorial, off by default; fixed for the life of a run")
    data_efficient.add_argument(
        "--arch", choices=ARCHS, default=None,
        help="tutorial (default): the tutorial's two-upsampling models; "
             "radford: the DCGAN paper's, doubling from 4x4 (an image size "
             "that is a power of two from 16)")
    data_efficient.add_argument(
        "--augment", default=None, metavar="POLICY",
        help="differentiable augmentation of every image the discriminator "
             "sees: a comma-separated subset of flip, color, translation, "
             "cutout (e.g. color,translation,cutout; default: none)")
    data_efficient.add_argument(
        "--shuffle", action=argparse.BooleanOptionalAction, default=None,
        help="train on the images in a new random order every epoch "
             "(default: on for a folder, which is read in sorted order; off "
             "for the named data sets, in the tutorial's order)")
    step = ap.add_argument_group(
        "training step", "not in the tutorial; fixed for the life of a run")
    step.add_argument(
        "--step", choices=STEPS, default=None,
        help="keras (default): the tutorial's two train_on_batch calls; "
             "tape: the same updates written with GradientTape in one "
             "compiled function (the step --distribute runs), which takes "
             "--loss")
    step.add_argument(
        "--loss", choices=tuple(LOSSES), default=None,
        help="with --step tape: bce (default, the tutorial's binary "
             "cross-entropy), logistic (non-saturating, on D's logits) or "
             "hinge (on D's logits)")
    recipe = ap.add_argument_group(
        "small-data recipe", "parts of the small-data recipe (docs/"
        "OWN_DATA.md): not in the tutorial, off by default; fixed for the "
        "life of a run")
    recipe.add_argument(
        "--recipe", choices=tuple(RECIPES), default=None,
        help="a named set of settings for the flags not given: tutorial "
             "(every setting as the tutorial's; the default for the named "
             "data sets and under --distribute) or small-data (--step tape "
             "--loss hinge --spectral-norm --xla --ema 0.999 --ema-rampup "
             "0.05 --width 0.5 --batch-size 32 --kimg 940: about 20 "
             "minutes of a 2-core CPU at 32x32; the default for a folder of "
             "images)")
    recipe.add_argument(
        "--spectral-norm", action=argparse.BooleanOptionalAction,
        default=None,
        help="spectral normalisation of every layer of the discriminator, "
             "without BatchNorm there (--no-spectral-norm turns off a "
             "--recipe's)")
    recipe.add_argument(
        "--r1", type=float, default=None, metavar="GAMMA",
        help="with --step tape: the R1 penalty on real images, gamma/2 "
             "times the squared gradient of D's logit, every 16 D steps "
             "(0.01-0.1 at 32x32; default: none)")
    recipe.add_argument(
        "--ada", type=float, default=None, metavar="TARGET",
        help="with --augment and --step tape: adaptive augmentation, each "
             "transform applied with a probability p from 0 that rises "
             "while D's mean sign on real images is above TARGET (0.6)")
    recipe.add_argument(
        "--xla", action=argparse.BooleanOptionalAction, default=None,
        help="with --step tape: compile the step with XLA (faster on a CPU; "
             "one device only; --no-xla turns off a --recipe's)")
    recipe.add_argument(
        "--mbstd", action=argparse.BooleanOptionalAction, default=None,
        help="with --step tape: StyleGAN's minibatch standard deviation, "
             "one more feature map in the discriminator holding the spread "
             "of each group of 4 images (batch a multiple of 4; one device, "
             "unconditional)")
    recipe.add_argument(
        "--self-supervised", action=argparse.BooleanOptionalAction,
        default=None,
        help="with --step tape: a small decoder rebuilds each real image "
             "from the discriminator's last feature maps, its squared error "
             "added to D's loss (lightweight-gan's self-supervised D; one "
             "device, unconditional, not with --shared-optimizer)")
    recipe.add_argument(
        "--width", type=float, default=None, metavar="K",
        help="every layer's channels and units in both models times K "
             "(0.125-4; default 1, the tutorial's): a slimmer pair takes "
             "more steps in the same time")
    recipe.add_argument(
        "--ema-rampup", type=float, default=None, metavar="R",
        help="with --ema: the average's half-life at most R times the "
             "images shown so far (StyleGAN2's ramp: 0.05)")
    ap.add_argument_group(
        "class-conditional", "choose what the generator draws: not in the "
        "tutorial, off by default; fixed for the life of a run"
    ).add_argument(
        "--conditional", nargs="?", const="onehot", default=None,
        choices=CONDITIONINGS, metavar="DESIGN",
        help="tell the generator and the discriminator each image's class "
             "(the named data sets' labels; a folder's first level of "
             "sub-folders); montages show one class a row.  DESIGN: "
             "onehot (when left out; the keras.io example's: a one-hot code "
             "beside the generator's noise and as extra channels of the "
             "discriminator's input) or projection (a learned class "
             "embedding beside the noise, a projection discriminator)")
    several = ap.add_argument_group(
        "several devices", "data parallel training with tf.distribute: each "
        "device trains on its share of --batch-size; not fixed for a run "
        "(a resume may train on other devices)")
    several.add_argument(
        "--distribute", choices=STRATEGIES, default=None,
        help="mirrored: every GPU of this machine (or --cpu-replicas); "
             "multi-worker: the machines listed in TF_CONFIG, each running "
             "this same command (default: one device, the tutorial's loop)")
    several.add_argument(
        "--cpu-replicas", type=int, default=None, metavar="N",
        help="with --distribute mirrored: N logical devices on this "
             "machine's CPU instead of GPUs (for trying it out and for tests: "
             "they share the CPU, so are not faster)")
    several.add_argument(
        "--worker-timeout", type=float, default=None, metavar="SECONDS",
        help=f"with --distribute multi-worker: how long a worker waits for "
             f"the others to start before it gives up, from "
             f"{MIN_WORKER_TIMEOUT:g} to {MAX_WORKER_TIMEOUT:g} (default "
             f"{DEFAULT_WORKER_TIMEOUT:g}: 5 minutes)")
    ap.add_argument("--tensorboard", action="store_true",
                    help="also write losses, quality numbers and montages "
                         "to OUTPUT/tensorboard/ for TensorBoard")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the newest checkpoint in --output")
    ap.add_argument("--overwrite", action="store_true",
                    help="start afresh in an --output that holds another "
                         "run: delete that run's montages, plots, "
                         "checkpoints, generator(_ema).keras, metrics CSVs "
                         "and TensorBoard event files first (nothing else)")
    ap.add_argument("--pause-after", type=int, default=None, metavar="N",
                    help="stop cleanly after N more epochs (resume later "
                         "with --resume)")
    ap.add_argument("--keep-checkpoints", type=int, default=3, metavar="K",
                    help="keep the newest K checkpoints (0 keeps all; "
                         "default 3)")
    return ap


def check_args(args):
    """Every check of the flags that needs neither the data nor
    TensorFlow: the run's settings (config.check_values), then the
    options and the output folder."""
    check_values(given_flags(args))
    check_positive("--pause-after", args.pause_after)
    check_budget(args)
    check_positive("--metrics-every", args.metrics_every)
    check_positive("--keep-checkpoints", args.keep_checkpoints,
                   allow_none=False, allow_zero=True)
    check_distribute(args.distribute, args.cpu_replicas)
    check_worker_timeout(args)
    if args.resume and args.overwrite:
        raise UserError("--resume continues the run in --output and "
                        "--overwrite deletes it: pass one of them")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UserError(f"--data-dir {args.data_dir} is not a folder")
    if args.dataset is not None:
        check_dataset(args.dataset)
        if is_folder(args.dataset) and args.data_dir is not None:
            raise UserError("--data-dir is for the named datasets; a folder "
                            "of images is given as --dataset FOLDER alone")
    if args.resume and not os.path.isdir(args.output):
        raise UserError(f"--resume: there is no folder {args.output}; train "
                        "without --resume first")
    check_output_dir(args.output)
    check_checkpoint_dir(args.output)
    if args.tensorboard:
        check_tensorboard(args.output)


def check_worker_timeout(args):
    if args.worker_timeout is None:
        return
    if args.distribute != "multi-worker":
        raise UserError("--worker-timeout is how long a worker of a "
                        "--distribute multi-worker run waits for the others; "
                        "leave it out")
    if not MIN_WORKER_TIMEOUT <= args.worker_timeout <= MAX_WORKER_TIMEOUT:
        raise UserError(f"--worker-timeout must be from "
                        f"{MIN_WORKER_TIMEOUT:g} to {MAX_WORKER_TIMEOUT:g} "
                        f"seconds, got {args.worker_timeout:g}")


def check_budget(args):
    """One length for a run: --epochs or --kimg; --epochs and --minutes in
    range."""
    if args.kimg is not None and args.epochs is not None:
        raise UserError("--kimg and --epochs both give the run's length: "
                        "pass one of them")
    if args.epochs is not None and args.epochs > MAX_EPOCHS:
        raise UserError(f"--epochs must be from 1 to {MAX_EPOCHS}, got "
                        f"{args.epochs}")
    if args.minutes is not None and not 0 < args.minutes <= MAX_MINUTES:
        raise UserError(f"--minutes must be above 0 and at most "
                        f"{MAX_MINUTES} (a week), got {args.minutes}")
    if args.minutes is not None and args.distribute == "multi-worker":
        raise UserError("--minutes would stop each worker of a multi-worker "
                        "run at another step: give the run's length with "
                        "--kimg or --epochs instead")


def check_tensorboard(output):
    """--tensorboard: the package, and OUTPUT/tensorboard a writable folder
    or nothing yet (a run must not delete another and then fail here)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise UserError("--tensorboard needs the tensorboard package: "
                        "python -m pip install -r requirements.txt")
    folder = os.path.join(output, TENSORBOARD)
    try:
        os.fsencode(os.path.abspath(folder)).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"--tensorboard: TensorFlow writes only to folders "
                        f"named in UTF-8, and {readable_name(folder)} is not; "
                        "pick another --output or train without "
                        "--tensorboard") from None
    check_run_folder(folder, "--tensorboard writes to",
                     "train without --tensorboard")


def check_checkpoint_dir(output):
    """OUTPUT/checkpoints: found now, not after an epoch of training."""
    check_run_folder(os.path.join(output, SUBDIR), "checkpoints go to",
                     "pick another --output")


def check_run_folder(folder, what, way_out):
    """A folder a run writes into must be a writable folder or nothing yet
    (a run must not delete another and then fail here)."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise UserError(f"{what} {folder}, which is not a folder; move it "
                        f"away or {way_out}")
    if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}, which cannot be written; make it "
                        f"writable or {way_out}")


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
