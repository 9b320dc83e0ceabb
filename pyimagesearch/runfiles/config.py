"""What a run is: one frozen RunConfig, resolved once from the flags (a
fresh run) or from the checkpoint plus the flags that may change (a
resumed one), checked here, saved in every checkpoint and read back from
it.  Where the run writes and how it reports (--output, --metrics-every,
--pause-after, ...) is not part of it: see cli.RunOptions."""
import dataclasses
import math
import os

from ..data.datasets import is_folder, native_shape
from ..errors import UserError, check_positive, check_range
from ..gan.architectures import ARCHITECTURES, MBSTD_GROUP
from ..gan.losses import LOSSES
from ..gan.policy import parse_policy
from ..gan.memory import (SHARE_OF_MEMORY, gigabytes, memory_limit,
                          training_bytes)
from ..gan.noise import NOISES
from ..quality.swd import SMALLEST_LEVEL as SWD_SMALLEST
from ..quality.swd import memory_bytes as swd_bytes

# the most real images the SWD measures with during training
SWD_IMAGES = 10000

# the largest seed NumPy's global generator takes
MAX_SEED = 2 ** 32 - 1
# two upsamplings of S/4 x S/4 x 64: at 1024 the models alone are ~17 GB
MAX_IMAGE_SIZE = 1024
# --conditional's designs: keras-io's one-hot code in both models (the
# default, by measurement: docs/CONDITIONAL.md), or a learned class
# embedding in G and a projection discriminator
CONDITIONINGS = ("onehot", "projection")
STEPS = ("keras", "tape")
TIPS = ("noise", "disc_dropout", "label_smoothing", "label_noise", "disc_lr",
        "gan_lr", "ema")
# the small-data recipe's parts beyond the tips (gan/step.py, gan/layers.py)
# and the models' width, each shown where a run names its settings
RECIPE = ("spectral_norm", "r1", "ema_rampup", "ada", "xla", "mbstd",
          "self_supervised", "width")
# --recipe: named sets of settings, each filling in what the flags leave
# out.  "tutorial" is the tutorial's (every default); "small-data" is the
# small-data recipe, chosen by measurement (docs/OWN_DATA.md), with a
# budget of about 20 minutes of training on a 2-core CPU at 32x32
SMALL_DATA_RECIPE = {"step": "tape", "loss": "hinge", "spectral_norm": True,
                     "xla": True, "ema": 0.999, "ema_rampup": 0.05,
                     "width": 0.5, "batch_size": 32, "kimg": 940}
RECIPES = {"tutorial": {}, "small-data": SMALL_DATA_RECIPE}
SMALL_DATA_LINE = ("[INFO] a folder of images: the small-data recipe (hinge "
                   "loss, spectral norm in D, XLA, the averaged generator, "
                   "half the widths, batch 32, 940 kimg: about 20 minutes "
                   "of a 2-core CPU at 32x32, docs/OWN_DATA.md); the flags "
                   "given override its parts; --recipe tutorial trains the "
                   "tutorial's")


def default_recipe(given, distribute=None):
    """The recipe of a fresh run that names none: a folder of images on one
    device takes the small-data recipe (the measured best on a folder,
    docs/OWN_DATA.md) unless --step keras asks for the tutorial's step;
    the named data sets and --distribute (XLA is for one device) keep the
    tutorial's."""
    if given.get("recipe"):
        return given["recipe"]
    dataset = given.get("dataset")
    if dataset is not None and is_folder(dataset) and not distribute \
            and given.get("step") != "keras":
        return "small-data"
    return "tutorial"
# the largest --r1 gamma (StyleGAN2 uses 0.01-100, most at 32 px below 1)
MAX_R1 = 100.0
# --width's range: an eighth of the tutorial's widths to four times them
MIN_WIDTH, MAX_WIDTH = 0.125, 4.0
# the longest budgets: 100,000 kimg (1e8 images), a week
MAX_KIMG = 100000
MAX_MINUTES = 7 * 24 * 60
# the most --epochs a run may ask for (the CLI's check: a --kimg run on a
# few images may take more)
MAX_EPOCHS = 100000
# what a resumed run may change: everything else must match its checkpoint
MAY_CHANGE_ON_RESUME = ("epochs", "kimg")
# what a checkpoint written before a setting existed was made with
LEGACY = {"dataset": "fashion_mnist", "image_size": 28, "channels": 1,
          "shuffle": False, "conditional": None, "recipe": "tutorial"}
# what the loaded data tells, never a flag
FROM_DATA = ("num_images", "data_sha1", "class_names")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Field order is the checkpoint's settings order.  image_size is
    always known; channels is None only for a folder of images with no
    --channels, until for_data() learns whether every image is grey."""
    # the recipe the unset settings below came from (None: the tutorial's,
    # for checkpoints written before recipes had names)
    recipe: str = None
    epochs: int = 50
    batch_size: int = 128
    limit: int = None
    seed: int = None
    mixed_precision: bool = False
    shared_optimizer: bool = False
    dataset: str = "fashion_mnist"
    image_size: int = None
    channels: int = None
    # the GAN tips, all off: the tutorial's training
    noise: str = "uniform"
    disc_dropout: float = 0.0
    label_smoothing: float = 0.0
    label_noise: float = 0.0
    disc_lr: float = 2e-4
    gan_lr: float = 2e-4
    ema: float = None
    # not the tutorial's: the DCGAN paper's models, DiffAugment, and a new
    # order of the training images every epoch (None: on for a folder,
    # whose files come in sorted order; off for the named data sets)
    arch: str = "tutorial"
    augment: str = None
    shuffle: bool = None
    # a class-conditional GAN: G and D are told each image's class, by
    # one of CONDITIONINGS (None: unconditional, the tutorial's)
    conditional: str = None
    # the training step: "keras" (the tutorial's two train_on_batch calls)
    # or "tape" (gan/step.py, as --distribute trains), and the tape step's
    # loss (gan/losses.py; the tutorial's binary cross-entropy by default)
    step: str = "keras"
    loss: str = "bce"
    # the small-data recipe's parts (off: the tutorial's): D under
    # spectral normalisation without BatchNorm, the lazy R1 penalty's
    # gamma (tape step), the moving average's ramp (with --ema)
    spectral_norm: bool = False
    r1: float = None
    ema_rampup: float = None
    # adaptive augmentation's target E[sign(D(real))] (with --augment)
    ada: float = None
    # the tape step compiled by XLA (faster on a CPU: docs/PERFORMANCE.md)
    xla: bool = False
    # StyleGAN's minibatch standard deviation as one more map in D
    mbstd: bool = False
    # a decoder rebuilds the real images from D's features (gan/decoder.py)
    self_supervised: bool = False
    # every layer's channels and units times this (both models)
    width: float = 1.0
    # the run's length in thousands of images shown, rounded up to whole
    # epochs (None: --epochs gives it)
    kimg: float = None
    # the training data, as loaded: a resumed run must see the same
    num_images: int = None
    data_sha1: str = None
    class_names: list = None

    # -- building ---------------------------------------------------------

    @classmethod
    def fresh(cls, given):
        """A fresh run: the flags given ({name: value, None if not given};
        given_flags), else its --recipe's settings, else the tutorial's
        defaults.  A length given (--epochs or --kimg) replaces the
        recipe's."""
        given = {key: value for key, value in given.items()
                 if value is not None}
        recipe = given.get("recipe") or "tutorial"
        values = dict(RECIPES.get(recipe, {}), recipe=recipe)
        if "epochs" in given or "kimg" in given:
            values.pop("kimg", None)
        values.update(given)
        return cls(**values)._with_native_shape()

    @classmethod
    def resumed(cls, saved, given):
        """A resumed run: the checkpoint's settings, with the flags given
        that may change; a flag that would make it another run is
        refused."""
        config = cls.from_saved(saved)
        changes = {}
        for key, value in given.items():
            if value is None or value == getattr(config, key):
                continue
            if key not in MAY_CHANGE_ON_RESUME:
                raise UserError(
                    "the checkpoint was made "
                    f"{as_flag(key, getattr(config, key))}, "
                    f"and this resume asks for it {as_flag(key, value)}: "
                    "leave the flag out to continue the run as it was; the "
                    "data and training settings of a run stay fixed "
                    "(its length, --epochs or --kimg, may rise)")
            changes[key] = value
        if config.kimg is not None and "epochs" in changes and \
                "kimg" not in changes:
            raise UserError(f"the run's length is --kimg {config.kimg:g}: "
                            "to train longer, raise --kimg instead of "
                            "--epochs")
        return dataclasses.replace(config, **changes).with_length()

    @classmethod
    def from_saved(cls, saved):
        """The config a checkpoint's settings describe; settings that did
        not exist yet when it was written take the value they had then."""
        names = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in LEGACY.items()
                  if key not in saved}
        values.update({key: value for key, value in saved.items()
                       if key in names})
        # written as a switch before it named its design
        if isinstance(values.get("conditional"), bool):
            values["conditional"] = ("projection" if values["conditional"]
                                     else None)
        bad = [(key, value) for key, value in values.items()
               if not _of_its_type(key, value)]
        # a conditional run's checkpoints are written once its classes
        # are known
        if values.get("conditional") and values.get("data_sha1") and \
                values.get("class_names") is None:
            bad.append(("class_names", None))
        for key, value in bad[:1]:
            raise UserError(
                f"the checkpoint's settings hold {key}={value!r}, which no "
                "run of this project writes: the checkpoint is damaged; move "
                "it away, or train afresh in another --output")
        return cls(**values)._with_native_shape()

    def _with_native_shape(self):
        size, channels = native_shape(self.dataset)
        return dataclasses.replace(
            self, image_size=self.image_size or size,
            channels=self.channels or channels,
            shuffle=default_shuffle(self.dataset) if self.shuffle is None
            else self.shuffle)

    def for_data(self, num_images, data_sha1, channels, class_names=None):
        """The config once the training images are loaded: what they are,
        for a folder whether they are grey, and for a conditional run the
        names of the classes.  Refuses other images (or classes) than
        those the checkpoint was trained on."""
        if class_names is not None:
            class_names = list(class_names)
        if self.class_names is not None and self.class_names != class_names:
            raise UserError(
                f"the checkpoint was trained on the classes "
                f"{', '.join(self.class_names)}, these images are of "
                f"{', '.join(class_names or ['none'])}: resume with the "
                "same class folders")
        if self.data_sha1 is not None and self.data_sha1 != data_sha1:
            raise UserError(
                "the checkpoint was trained on other data ({} images, sha1 "
                "{}) than these {} images (sha1 {}): resume with the same "
                "images (the same --data-dir, or the same files in the "
                "folder)".format(self.num_images, self.data_sha1[:12],
                                 num_images, data_sha1[:12]))
        return dataclasses.replace(self, num_images=num_images,
                                   data_sha1=data_sha1, channels=channels,
                                   class_names=class_names).with_length()

    @property
    def images_per_epoch(self):
        """Images shown in one epoch: its full batches (None until the
        images are counted)."""
        if self.num_images is None:
            return None
        return (self.num_images // self.batch_size) * self.batch_size

    def with_length(self):
        """A --kimg run's epochs, once its images are counted: the fewest
        whole epochs that show kimg thousand images."""
        if self.kimg is None or not self.images_per_epoch:
            return self
        images = round(self.kimg * 1000)
        return dataclasses.replace(self, epochs=max(1, -(
            -images // self.images_per_epoch)))

    def kimg_of(self, epochs):
        """Thousands of images shown in `epochs` epochs."""
        return epochs * self.images_per_epoch / 1000

    def length_line(self):
        """'[INFO] --kimg 600: 202 epochs of 93 steps (601.152 kimg
        shown)' for a --kimg run, else None."""
        if self.kimg is None or not self.images_per_epoch:
            return None
        return "[INFO] --kimg {:g}: {} epochs of {} steps ({:g} kimg " \
            "shown)".format(self.kimg, self.epochs,
                            self.num_images // self.batch_size,
                            self.epochs * self.images_per_epoch / 1000)

    def to_dict(self):
        return dataclasses.asdict(self)

    # -- checks that need no data -----------------------------------------

    def check(self, metrics_every=None, memory=True, resumed=False):
        """Each setting in its range, and their combination: a full batch
        within --limit, one learning rate for one shared Adam, a loss the
        step can train, the SWD's smallest size for the metrics, and (with
        `memory`) models and a batch that fit in this machine's memory.
        An error in settings a --recipe filled in says so; a `resumed`
        run's came from its checkpoint (an older run's recipe may have
        set other values than today's)."""
        try:
            self._check(metrics_every)
        except UserError as e:
            hint = (" (a resumed run keeps the settings its checkpoint "
                    "holds: change what the resume asks for)") if resumed \
                else self.recipe_hint()
            raise UserError(f"{e}{hint}") from None
        if memory:
            self.check_memory(metrics_every)

    def recipe_hint(self):
        """'; --recipe small-data sets --step tape ...' where the run's
        recipe set settings (a flag given, e.g. --no-xla, overrides one)."""
        settings = RECIPES.get(self.recipe) or {}
        if not settings:
            return ""
        return (f" (--recipe {self.recipe} sets "
                + " ".join(f"--{key.replace('_', '-')}" + (
                    "" if value is True else f" {shown(value)}")
                    for key, value in settings.items())
                + "; a flag given overrides one, e.g. --no-xla)")

    def _check(self, metrics_every):
        check_values(self.to_dict())
        if self.loss != "bce" and self.step != "tape":
            raise UserError(f"--loss {self.loss} needs --step tape (or "
                            "--distribute, which trains with it): the "
                            "tutorial's train_on_batch step compiles its "
                            "binary cross-entropy (bce)")
        if self.xla and self.step != "tape":
            raise UserError("--xla compiles the tape step: give --step tape "
                            "too")
        if self.ada is not None and (self.step != "tape" or not self.augment):
            raise UserError("--ada adapts --augment's strength on the tape "
                            "step: give --augment POLICY and --step tape "
                            "too")
        if self.r1 and self.step != "tape":
            raise UserError("--r1 needs --step tape (or --distribute): the "
                            "penalty is a gradient of D's output, which "
                            "train_on_batch cannot take")
        if self.mbstd:
            self._check_mbstd()
        if self.self_supervised:
            self._check_self_supervised()
        if self.ema_rampup and self.ema is None:
            raise UserError("--ema-rampup ramps the moving average of "
                            "--ema: give --ema DECAY too (e.g. 0.999)")
        if self.limit is not None and self.batch_size > self.limit:
            raise UserError(
                f"--batch-size {self.batch_size} is larger than --limit "
                f"{self.limit}: no full batch to train on; lower "
                "--batch-size or raise --limit")
        if self.shared_optimizer and self.disc_lr != self.gan_lr:
            raise UserError("--shared-optimizer trains both models with one "
                            "Adam, so one learning rate: leave out --disc-lr "
                            "and --gan-lr, or give them the same value")
        if metrics_every and self.image_size < SWD_SMALLEST:
            raise UserError(f"--metrics-every: the sliced Wasserstein "
                            f"distance needs images of at least "
                            f"{SWD_SMALLEST}x{SWD_SMALLEST}, this run trains "
                            f"at {self.image_size}x{self.image_size}; raise "
                            "--image-size or train without it")

    def _check_mbstd(self):
        if self.step != "tape":
            raise UserError("--mbstd needs --step tape: the tutorial's "
                            "train_on_batch step shuffles real and "
                            "generated images together, and D's groups "
                            "would mix them")
        if self.conditional:
            raise UserError("--mbstd is for unconditional runs: leave out "
                            "--conditional or --mbstd")
        if self.batch_size % MBSTD_GROUP:
            raise UserError(f"--mbstd takes the spread of each group of "
                            f"{MBSTD_GROUP} images: --batch-size must be a "
                            f"multiple of {MBSTD_GROUP}, got "
                            f"{self.batch_size}")

    def _check_self_supervised(self):
        if self.step != "tape":
            raise UserError("--self-supervised needs --step tape: the "
                            "decoder's loss is added to D's in the tape "
                            "step")
        if self.conditional:
            raise UserError("--self-supervised is for unconditional runs: "
                            "leave out --conditional or --self-supervised")
        if self.shared_optimizer:
            raise UserError("--self-supervised trains its decoder with D's "
                            "Adam: leave out --shared-optimizer")

    def check_memory(self, metrics_every=None):
        needed = training_bytes(self)
        if metrics_every:   # the SWD of up to 10,000 images, at the epochs:
            # the real ones, G's and the average's, measured together
            needed += swd_bytes(min(self.limit or SWD_IMAGES, SWD_IMAGES),
                                self.image_size, self.channels or 3,
                                sets=2 if self.ema is None else 3)
        have, what = memory_limit()
        if have and needed > SHARE_OF_MEMORY * have:
            raise UserError(
                f"--image-size {self.image_size} with --batch-size "
                f"{self.batch_size} needs about {gigabytes(needed)} for the "
                "models' weights, optimizer state and activations"
                + (" and the SWD" if metrics_every else "") + ", more "
                f"than {gigabytes(have)} ({what}) can hold; choose a "
                "smaller --image-size or --batch-size")

    # -- describing ---------------------------------------------------------

    @property
    def tips(self):
        """The GAN tips' values, by name."""
        return {key: getattr(self, key) for key in TIPS}

    def tip_flags(self):
        """The tips and small-data switches this run uses, as flags:
        '--noise normal --ema 0.999 --arch radford', or '' for the
        tutorial's recipe."""
        changed = dict(self.tips, arch=self.arch, augment=self.augment,
                       step=self.step, loss=self.loss,
                       **{key: getattr(self, key) for key in RECIPE})
        flags = [f"--{key.replace('_', '-')}" + (
                 "" if value is True else f" {shown(value)}")
                 for key, value in changed.items() if value != _DEFAULTS[key]]
        if self.shuffle not in (None, default_shuffle(self.dataset)):
            flags.append("--shuffle" if self.shuffle else "--no-shuffle")
        return " ".join(flags)


_DEFAULTS = {field.name: field.default
             for field in dataclasses.fields(RunConfig)}
_TYPES = {field.name: field.type for field in dataclasses.fields(RunConfig)}


def _of_its_type(key, value):
    """Whether a saved setting is of the type its field holds (None only
    where the default is None; an int is a float too, a bool no number)."""
    kind = _TYPES[key]
    if value is None:
        return _DEFAULTS[key] is None or key in ("image_size", "channels")
    if key == "class_names":
        return (isinstance(value, list) and len(value) > 1
                and all(isinstance(name, str) for name in value))
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float))
    if not isinstance(value, kind):
        return False
    if key == "augment":
        try:
            return parse_policy(value) is not None
        except ValueError:
            return False
    return {"noise": NOISES, "arch": ARCHITECTURES, "step": STEPS, "loss": LOSSES,
            "conditional": CONDITIONINGS, "recipe": RECIPES}.get(
        key, (value,)).__contains__(value)


def default_shuffle(dataset):
    """A folder is read in sorted order (each batch one sub-folder's
    images), so it is shuffled every epoch unless --no-shuffle; the named
    data sets keep the tutorial's order (their makers shuffled them)."""
    return is_folder(dataset)


def given_flags(args):
    """The run's settings as the flags give them ({name: value, None where
    not given}): the one place the parsed command line becomes settings.
    A folder is named by its absolute path, the same from anywhere."""
    given = {key: getattr(args, key) for key in _DEFAULTS
             if key not in FROM_DATA}
    if given["dataset"] is not None and is_folder(given["dataset"]):
        given["dataset"] = os.path.abspath(given["dataset"])
    if given["augment"] is not None:
        try:    # one name for one policy: "cutout, color" is "color,cutout"
            given["augment"] = ",".join(parse_policy(given["augment"]))
        except ValueError:
            pass        # check_values says what is wrong with it
    return given


def check_seed(seed, flag="--seed"):
    check_range(flag, seed, 0, MAX_SEED)


def check_values(values):
    """Each setting in its documented range, named as its flag (None: not
    given): run before anything is touched, and again on the resolved
    configuration."""
    for flag, key in (("--epochs", "epochs"), ("--batch-size", "batch_size"),
                      ("--limit", "limit")):
        check_positive(flag, values.get(key))
    kimg = values.get("kimg")
    if kimg is not None and not 0 < kimg <= MAX_KIMG:
        raise UserError(f"--kimg must be above 0 and at most {MAX_KIMG} "
                        f"(thousands of images shown), got {kimg}")
    check_seed(values.get("seed"))
    size = values.get("image_size")
    if size is not None and (size < 8 or size > MAX_IMAGE_SIZE or size % 4):
        raise UserError(f"--image-size must be a multiple of 4 from 8 to "
                        f"{MAX_IMAGE_SIZE} (the generator upsamples S/4 "
                        f"twice), got {size}")
    width = values.get("width")     # before check_arch, which scales by it
    if width is not None and not MIN_WIDTH <= width <= MAX_WIDTH:
        raise UserError(f"--width must be from {MIN_WIDTH:g} to "
                        f"{MAX_WIDTH:g} (times every layer's channels; 1 is "
                        f"the tutorial's), got {width}")
    check_arch(values)
    if values.get("conditional") not in (None,) + CONDITIONINGS:
        raise UserError(f"--conditional must be one of "
                        f"{', '.join(CONDITIONINGS)}, got "
                        f"{values['conditional']}")
    for key, known in (("step", STEPS), ("loss", LOSSES), ("recipe", RECIPES)):
        if values.get(key) not in (None,) + tuple(known):
            raise UserError(f"--{key} must be one of {', '.join(known)}, "
                            f"got {values[key]}")
    if values.get("channels") not in (None, 1, 3):
        raise UserError(f"--channels must be 1 (grey) or 3 (colour), got "
                        f"{values['channels']}")
    check_tips(values)


def check_arch(values):
    """A known --arch, at an image size it allows; a known --augment
    policy."""
    arch, size = values.get("arch"), values.get("image_size")
    if arch is not None and arch not in ARCHITECTURES:
        raise UserError(f"--arch must be one of {', '.join(ARCHITECTURES)}, "
                        f"got {arch}")
    if arch is not None and size is not None:
        wrong = ARCHITECTURES[arch].size_error(size,
                                                values.get("width") or 1.0)
        if wrong:
            raise UserError(wrong)
    if values.get("augment") is not None:
        try:
            parse_policy(values["augment"])
        except ValueError as e:
            raise UserError(str(e)) from None


def check_tips(values):
    """The GAN tips: probabilities in [0, 1), a decay in (0, 1), positive
    learning rates, a known noise."""
    for key in ("disc_dropout", "label_smoothing", "label_noise"):
        value = values.get(key)
        if value is not None and not 0 <= value < 1:
            raise UserError(f"--{key.replace('_', '-')} must be at least 0 "
                            f"and below 1, got {value}")
    ema = values.get("ema")
    if ema is not None and not 0 < ema < 1:
        raise UserError(f"--ema must be a decay above 0 and below 1 (e.g. "
                        f"0.999), got {ema}")
    r1 = values.get("r1")
    if r1 is not None and not 0 < r1 <= MAX_R1:
        raise UserError(f"--r1 must be a gamma above 0 and at most {MAX_R1:g} "
                        f"(0.01-0.1 suits 32x32 images), got {r1}")
    ada = values.get("ada")
    if ada is not None and not 0 < ada < 1:
        raise UserError("--ada must be a target above 0 and below 1 for D's "
                        "mean sign on real images (ADA's is 0.6), got "
                        f"{ada}")
    rampup = values.get("ema_rampup")
    if rampup is not None and not 0 < rampup <= 1:
        raise UserError("--ema-rampup must be above 0 and at most 1 (the "
                        "average's half-life as a share of the images shown "
                        f"so far; StyleGAN2's is 0.05), got {rampup}")
    for key in ("disc_lr", "gan_lr"):
        value = values.get(key)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise UserError(f"--{key.replace('_', '-')} must be a positive "
                            "learning rate (the tutorial's is 2e-4), got "
                            f"{value}")
    if values.get("noise") not in (None,) + NOISES:
        raise UserError(f"--noise must be one of {', '.join(NOISES)}, got "
                        f"{values['noise']}")


def as_flag(key, value):
    """'with --seed 1', 'with --shared-optimizer', 'without --seed',
    'without --disc-dropout' (a tip at 0 is off)."""
    flag = "--" + key.replace("_", "-")
    if value is None or value is False or (
            key in TIPS and value == 0 and _DEFAULTS[key] == 0):
        return f"without {flag}"
    return f"with {flag}" if value is True else f"with {flag} {shown(value)}"


def shown(value):
    """A setting as its flag takes it: a whole float without its .0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
