"""The run configuration: resolved once from the flags or the checkpoint,
checked, frozen, and the rules for what a resumed run may change."""
import dataclasses
import json
import re

import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.run import cli
from pyimagesearch.runfiles.config import TIPS, RunConfig, as_flag, given_flags


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def given(*argv):
    return given_flags(parse("--output", "o", *argv))


def fresh(*argv):
    return RunConfig.fresh(given(*argv))


def resumed(saved, *argv):
    return RunConfig.resumed(saved, given(*argv))


def test_defaults_are_the_tutorials():
    config = fresh()
    assert config.to_dict() == {
        "recipe": "tutorial",
        "epochs": 50, "batch_size": 128, "limit": None, "seed": None,
        "mixed_precision": False, "shared_optimizer": False,
        "dataset": "fashion_mnist", "image_size": 28, "channels": 1,
        # the GAN tips: off, and the tutorial's learning rates
        "noise": "uniform", "disc_dropout": 0.0, "label_smoothing": 0.0,
        "label_noise": 0.0, "disc_lr": 2e-4, "gan_lr": 2e-4, "ema": None,
        # the small-data switches: off
        "arch": "tutorial", "augment": None, "shuffle": False,
        # unconditional, on the tutorial's step and loss
        "conditional": None, "step": "keras", "loss": "bce",
        # the small-data recipe's parts: off; the length in epochs
        "spectral_norm": False, "r1": None, "ema_rampup": None, "ada": None,
        "xla": False, "mbstd": False, "self_supervised": False,
        "width": 1.0, "kimg": None,
        "num_images": None, "data_sha1": None, "class_names": None}
    assert config.tip_flags() == ""


def test_a_recipe_fills_in_what_the_flags_leave_out():
    config = fresh("--recipe", "small-data")
    assert (config.recipe, config.step, config.loss, config.spectral_norm,
            config.xla, config.ema, config.ema_rampup, config.width,
            config.batch_size, config.kimg) == (
        "small-data", "tape", "hinge", True, True, 0.999, 0.05, 0.5, 32, 940)
    # a flag given wins; a length given replaces the recipe's
    mine = fresh("--recipe", "small-data", "--batch-size", "64", "--epochs",
                 "7")
    assert (mine.batch_size, mine.epochs, mine.kimg) == (64, 7, None)
    assert fresh("--recipe", "small-data", "--kimg", "50").kimg == 50
    # the recipe is recorded and fixed for the run
    saved = config.to_dict()
    assert resumed(saved).to_dict() == saved
    with pytest.raises(UserError, match="made with --recipe small-data"):
        resumed(saved, "--recipe", "tutorial")
    # a small-data run from before the recipe halved the widths resumes
    # at the widths it trained with (and its length)
    before = {key: value for key, value in saved.items() if key != "width"}
    before["kimg"] = 400
    assert (resumed(before).width, resumed(before).kimg) == (1.0, 400)
    # an error in a resumed run's settings names the checkpoint, not what
    # the recipe sets today (this run trained other widths and length)
    before["image_size"] = 12
    with pytest.raises(UserError) as raised:
        resumed(before).check(metrics_every=1, memory=False, resumed=True)
    assert str(raised.value).endswith("(a resumed run keeps the settings "
                                      "its checkpoint holds: change what "
                                      "the resume asks for)")
    assert "--width 0.5" not in str(raised.value)
    with pytest.raises(UserError, match=re.escape(
            "--width 0.5 --batch-size 32 --kimg 940")):
        resumed(before).check(metrics_every=1, memory=False)
    # a checkpoint from before recipes had names is the tutorial's
    old = fresh().to_dict()
    del old["recipe"]
    assert resumed(old).recipe == "tutorial"
    assert resumed(old, "--recipe", "tutorial").tip_flags() == ""
    # what a recipe set, a flag given turns off; an error in what it set
    # says where it came from
    assert fresh("--recipe", "small-data", "--no-xla").xla is False
    with pytest.raises(UserError, match=re.escape(
            "(--recipe small-data sets --step tape --loss hinge "
            "--spectral-norm --xla --ema 0.999")):
        fresh("--recipe", "small-data", "--step", "keras").check(
            memory=False)
    fresh("--recipe", "small-data", "--step", "keras", "--loss", "bce",
          "--no-xla").check(memory=False)


def test_a_kimg_run_s_length_in_whole_epochs():
    # 300 images in batches of 32: 9 steps, 288 images an epoch
    config = fresh("--kimg", "1", "--batch-size", "32").for_data(
        300, "ab" * 20, 1)
    assert (config.epochs, config.kimg_of(config.epochs)) == (4, 1.152)
    assert config.length_line() == \
        "[INFO] --kimg 1: 4 epochs of 9 steps (1.152 kimg shown)"
    exact = fresh("--kimg", "0.576", "--batch-size", "32").for_data(
        300, "ab" * 20, 1)
    assert exact.epochs == 2
    assert fresh("--kimg", "0.577", "--batch-size", "32").for_data(
        300, "ab" * 20, 1).epochs == 3


def test_native_shape_is_known_before_any_decoding(tmp_path):
    assert (fresh("--dataset", "cifar10").image_size,
            fresh("--dataset", "cifar10").channels) == (32, 3)
    assert fresh("--dataset", "mnist", "--image-size", "32").image_size == 32
    (tmp_path / "pics").mkdir()
    folder = fresh("--dataset", str(tmp_path / "pics"))
    # a folder's channels wait for its images: 1 only if all are grey
    assert (folder.image_size, folder.channels) == (32, None)
    assert folder.for_data(10, "ab" * 20, 1).channels == 1


def test_the_configuration_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh().epochs = 3


def test_data_completes_a_fresh_config_and_must_match_on_resume():
    config = fresh("--limit", "640").for_data(640, "a" * 40, 1)
    assert (config.num_images, config.data_sha1) == (640, "a" * 40)
    again = RunConfig.from_saved(config.to_dict())
    assert again == config
    assert again.for_data(640, "a" * 40, 1) == config
    with pytest.raises(UserError, match=r"trained on other data \(640 "
                       r"images, sha1 aaaaaaaaaaaa\) than these 641 images "
                       r"\(sha1 bbbbbbbbbbbb\)"):
        again.for_data(641, "b" * 40, 1)


def test_batch_larger_than_limit():
    # the default batch of 128 counts too, and the checkpoint's on resume
    for flags in (["--limit", "10", "--batch-size", "64"], ["--limit", "10"]):
        with pytest.raises(UserError, match="--batch-size (64|128) is larger "
                                            "than --limit 10"):
            fresh(*flags).check()


def test_metrics_work_on_any_data_of_16_pixels_or_more():
    for flags in ([], ["--dataset", "mnist"], ["--image-size", "32"],
                  ["--channels", "3"], ["--image-size", "16"]):
        fresh(*flags).check(metrics_every=1)
    with pytest.raises(UserError, match="sliced Wasserstein distance needs "
                       "images of at least 16x16, this run trains at 12x12"):
        fresh("--image-size", "12").check(metrics_every=1)
    fresh("--image-size", "12").check()        # without metrics, fine


@pytest.mark.parametrize("flags,fragment", [
    (["--augment", "colour"], "--augment takes a comma-separated list of "
                              "flip, color, translation, cutout, got 'colour'"),
    (["--augment", ""], "got ''"),
    (["--augment", "color,,cutout"], "got 'color,,cutout'"),
    (["--arch", "radford", "--image-size", "48"],
     "--image-size must be a power of two from 16 (16, 32, 64, ...), got "
     "48"),
    (["--arch", "radford", "--image-size", "8"], "got 8"),
])
def test_bad_small_data_switches(flags, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        cli.check_args(parse("--output", "o", *flags))


def test_a_folder_is_shuffled_every_epoch_unless_asked_not_to(tmp_path):
    folder = str(tmp_path)
    assert fresh().shuffle is False                 # the tutorial's order
    assert fresh("--dataset", "mnist", "--shuffle").shuffle is True
    assert fresh("--dataset", folder).shuffle is True
    assert fresh("--dataset", folder).tip_flags() == ""
    assert fresh("--dataset", folder, "--no-shuffle").tip_flags() == \
        "--no-shuffle"
    # a folder checkpoint from before --shuffle existed was in order
    old = {key: value for key, value in
           fresh("--dataset", folder).to_dict().items() if key != "shuffle"}
    assert resumed(old).shuffle is False
    with pytest.raises(UserError, match="made without --shuffle"):
        resumed(old, "--shuffle")


def test_one_augment_policy_has_one_name():
    assert fresh("--augment", "cutout, color").augment == "color,cutout"
    saved = fresh("--augment", "color,cutout").to_dict()
    assert resumed(saved, "--augment", "cutout,color").augment == \
        "color,cutout"


def test_the_memory_check_counts_the_swd(monkeypatch):
    from pyimagesearch.runfiles import config as config_module
    from pyimagesearch.quality.swd import memory_bytes
    config = fresh("--image-size", "32", "--channels", "3", "--batch-size",
                   "32")
    need = config_module.training_bytes(config)
    swd = memory_bytes(10000, 32, 3)
    from pyimagesearch.gan import memory
    monkeypatch.setattr(memory, "cgroup_limits", lambda: [])
    monkeypatch.setattr(memory, "machine_bytes",
                        lambda: int((need + swd / 2) / 0.8))
    config.check()
    with pytest.raises(UserError, match="and the SWD, more than"):
        config.check(metrics_every=1)
    # with --ema the average is measured beside G: a third set of images
    averaged = dataclasses.replace(config, ema=0.999)
    two, three = (memory_bytes(10000, 32, 3, sets) for sets in (2, 3))
    monkeypatch.setattr(memory, "machine_bytes",
                        lambda: int((need + (two + three) / 2) / 0.8))
    config.check(metrics_every=1)
    with pytest.raises(UserError, match="and the SWD, more than"):
        averaged.check(metrics_every=1)


def test_radford_needs_a_power_of_two_even_by_default():
    # Fashion-MNIST is 28x28: known before any data loads
    with pytest.raises(UserError, match="power of two from 16 .* got 28 "
                                        r"\(without --image-size, the "
                                        r"data's own size\)"):
        fresh("--arch", "radford").check()
    fresh("--arch", "radford", "--image-size", "32").check()
    with pytest.raises(UserError, match="invalid choice: 'dcgan'"):
        parse("--output", "o", "--arch", "dcgan")


@pytest.mark.parametrize("flags,message", [
    (["--augment", "color"], "made without --augment, and this resume asks "
                             "for it with --augment color"),
    (["--arch", "radford"], "made with --arch tutorial, and this resume "
                            "asks for it with --arch radford"),
    (["--shuffle"], "made without --shuffle, and this resume asks for it "
                    "with --shuffle"),
    (["--mbstd"], "made without --mbstd, and this resume asks for it with "
                  "--mbstd"),
    (["--width", "0.5"], "made with --width 1, and this resume asks for it "
                         "with --width 0.5"),
    (["--self-supervised"], "made without --self-supervised, and this "
                            "resume asks for it with --self-supervised"),
])
def test_small_data_switches_are_fixed_on_resume(flags, message):
    saved = fresh("--image-size", "32").to_dict()
    with pytest.raises(UserError, match=message):
        resumed(saved, *flags)
    # a checkpoint from before they existed was made without them
    old = {key: value for key, value in saved.items()
           if key not in ("arch", "augment", "shuffle", "mbstd", "width",
                          "self_supervised")}
    assert resumed(old) == resumed(saved)
    assert resumed(old).arch == "tutorial"


def test_mbstd_is_recorded_and_fixed_for_the_run():
    with_mbstd = fresh("--step", "tape", "--mbstd").to_dict()
    assert with_mbstd["mbstd"] is True
    assert resumed(with_mbstd).mbstd is True
    assert resumed(with_mbstd, "--mbstd") == resumed(with_mbstd)
    with pytest.raises(UserError, match="made with --mbstd, and this resume "
                       "asks for it without --mbstd"):
        resumed(with_mbstd, "--no-mbstd")
    assert fresh("--step", "tape", "--mbstd").tip_flags() == \
        "--step tape --mbstd"


def test_self_supervised_is_recorded_and_fixed_for_the_run():
    flags = ("--step", "tape", "--loss", "hinge", "--self-supervised")
    supervised = fresh(*flags).to_dict()
    assert supervised["self_supervised"] is True
    assert resumed(supervised).self_supervised is True
    with pytest.raises(UserError, match="made with --self-supervised, and "
                       "this resume asks for it without --self-supervised"):
        resumed(supervised, "--no-self-supervised")
    assert fresh(*flags).tip_flags() == \
        "--step tape --loss hinge --self-supervised"


def test_width_is_recorded_and_fixed_for_the_run():
    slim = fresh("--width", "0.5").to_dict()
    assert slim["width"] == 0.5
    assert resumed(slim).width == 0.5
    with pytest.raises(UserError, match="made with --width 0.5, and this "
                       "resume asks for it with --width 1"):
        resumed(slim, "--width", "1")
    assert fresh("--width", "0.5").tip_flags() == "--width 0.5"
    # the radford models halve their channels down to the image: at 1024
    # an eighth of the width leaves none
    fresh("--arch", "radford", "--image-size", "1024").check(memory=False)
    with pytest.raises(UserError, match="halves its channels down to none "
                                        "at --width 0.125"):
        fresh("--arch", "radford", "--image-size", "1024", "--width",
              "0.125").check(memory=False)


def test_the_step_and_its_loss():
    assert (fresh().step, fresh().loss) == ("keras", "bce")
    config = fresh("--step", "tape", "--loss", "hinge")
    config.check(memory=False)
    assert config.tip_flags() == "--step tape --loss hinge"
    # train_on_batch compiles the tutorial's loss: another needs the tape
    for flags in (["--loss", "hinge"], ["--loss", "logistic", "--step",
                                        "keras"]):
        with pytest.raises(UserError, match="needs --step tape"):
            fresh(*flags).check(memory=False)
    for flags, fragment in ((["--step", "fit"], "invalid choice: 'fit'"),
                            (["--loss", "l2"], "invalid choice: 'l2'")):
        with pytest.raises(UserError, match=fragment):
            fresh(*flags)
    # fixed for the run: the same given again is fine, a change refused
    saved = config.to_dict()
    assert resumed(saved, "--loss", "hinge") == resumed(saved)
    with pytest.raises(UserError, match="made with --loss hinge, and this "
                                        "resume asks for it with --loss "
                                        "logistic"):
        resumed(saved, "--loss", "logistic")
    with pytest.raises(UserError, match="made with --step tape"):
        resumed(saved, "--step", "keras")
    # a checkpoint from before they existed: the tutorial's
    old = {key: value for key, value in saved.items()
           if key not in ("step", "loss")}
    assert (resumed(old).step, resumed(old).loss) == ("keras", "bce")


def test_resume_takes_checkpoint_settings():
    saved = {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1,
             "num_images": 640}
    config = resumed(saved)
    assert config == RunConfig(epochs=2, batch_size=64, limit=640, seed=1,
                               image_size=28, channels=1, shuffle=False,
                               num_images=640, recipe="tutorial")
    # raising --epochs is how a finished run trains longer
    assert resumed(saved, "--epochs", "5").epochs == 5
    # repeating a setting unchanged is fine
    assert resumed(saved, "--batch-size", "64") == config


@pytest.mark.parametrize("flags,saved_as,asked_as", [
    (["--batch-size", "32"], "with --batch-size 64", "with --batch-size 32"),
    (["--limit", "1280"], "with --limit 640", "with --limit 1280"),
    (["--seed", "2"], "with --seed 1", "with --seed 2"),
    (["--shared-optimizer"], "without --shared-optimizer",
     "with --shared-optimizer"),
])
def test_resume_refuses_a_different_run(flags, saved_as, asked_as):
    saved = {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1,
             "num_images": 640}
    with pytest.raises(UserError) as info:
        resumed(saved, *flags)
    assert str(info.value).startswith(
        f"the checkpoint was made {saved_as}, and this resume asks for it "
        f"{asked_as}: leave the flag out")
    assert "(its length, --epochs or --kimg, may rise)" in str(info.value)


def test_unseeded_checkpoint_says_without():
    saved = {"epochs": 2, "batch_size": 64, "limit": None, "seed": None}
    with pytest.raises(UserError, match="made without --seed, and this "
                       "resume asks for it with --seed 5"):
        resumed(saved, "--seed", "5")


def test_checkpoints_from_before_datasets_are_fashion_mnist_28x28x1():
    saved = {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1}
    config = resumed(saved, "--image-size", "28", "--channels", "1")
    assert (config.dataset, config.image_size, config.channels) == \
        ("fashion_mnist", 28, 1)
    with pytest.raises(UserError, match="made with --image-size 28, and this "
                       "resume asks for it with --image-size 32"):
        resumed(saved, "--image-size", "32")


def test_a_folder_dataset_is_recorded_as_an_absolute_path(tmp_path,
                                                          monkeypatch):
    (tmp_path / "pics").mkdir()
    monkeypatch.chdir(tmp_path)
    assert fresh("--dataset", "pics").dataset == str(tmp_path / "pics")


def test_tip_flags_name_what_differs_from_the_tutorial():
    config = fresh("--noise", "normal", "--disc-dropout", "0.3", "--gan-lr",
                   "1e-4", "--ema", "0.999", "--label-noise", "0")
    assert config.tip_flags() == ("--noise normal --disc-dropout 0.3 "
                                  "--gan-lr 0.0001 --ema 0.999")


@pytest.mark.parametrize("flag,value", [
    ("--noise", "normal"), ("--disc-dropout", "0.2"),
    ("--label-smoothing", "0.1"), ("--label-noise", "0.05"),
    ("--disc-lr", "1e-4"), ("--gan-lr", "1e-4"), ("--ema", "0.99")])
def test_tips_are_fixed_on_resume(flag, value):
    saved = fresh().to_dict()
    with pytest.raises(UserError, match=f"the checkpoint was made without "
                       f"{flag}|the checkpoint was made with {flag}"):
        resumed(saved, flag, value)
    # a checkpoint from before the tips existed was made without them
    old = {key: value for key, value in saved.items() if key not in TIPS}
    assert resumed(old) == resumed(saved) == fresh()


def test_one_shared_optimizer_has_one_learning_rate():
    with pytest.raises(UserError, match="one Adam, so one learning rate"):
        fresh("--shared-optimizer", "--gan-lr", "1e-4").check()
    fresh("--shared-optimizer", "--gan-lr", "1e-4", "--disc-lr",
          "1e-4").check()


def test_tip_flags_are_exact_and_name_only_tips():
    assert RunConfig(ema=0.9999999).tip_flags() == "--ema 0.9999999"
    assert RunConfig(arch="radford", augment="color,cutout",
                     shuffle=True).tip_flags() == (
        "--arch radford --augment color,cutout --shuffle")
    assert RunConfig(shared_optimizer=True).tip_flags() == ""
    assert as_flag("disc_dropout", 0.0) == "without --disc-dropout"
    assert as_flag("label_noise", 0.05) == "with --label-noise 0.05"
    assert as_flag("noise", "uniform") == "with --noise uniform"


def test_options_are_not_part_of_the_run():
    args = parse("--output", "o", "--metrics-every", "2", "--pause-after",
                 "1", "--keep-checkpoints", "0", "--tensorboard")
    options = cli.RunOptions.from_flags(args)
    assert (options.output, options.metrics_every, options.pause_after,
            options.keep_checkpoints, options.tensorboard) == \
        ("o", 2, 1, 0, True)
    names = {field.name for field in dataclasses.fields(RunConfig)}
    assert not names & {field.name for field in dataclasses.fields(options)}


def test_models_that_cannot_fit_in_memory_are_refused(monkeypatch):
    from pyimagesearch.gan import memory
    monkeypatch.setattr(memory, "cgroup_limits", lambda: [])
    monkeypatch.setattr(memory, "machine_bytes", lambda: 8 * 2 ** 30)
    fresh("--image-size", "128").check()          # ~3.5 GB
    with pytest.raises(UserError, match=r"--image-size 512 with --batch-size "
                       r"128 needs about 53.2 GB .* than 8.0 GB \(this "
                       r"machine's memory\)"):
        fresh("--image-size", "512").check()
    # a container's limit below the machine's memory is the one that holds
    monkeypatch.setattr(memory, "cgroup_limits", lambda: [
        (2 * 2 ** 30, "/sys/fs/cgroup/memory.max")])
    with pytest.raises(UserError, match=r"than 2.0 GB \(the memory limit in "
                                        r"/sys/fs/cgroup/memory.max\)"):
        fresh("--image-size", "128").check()
    with pytest.raises(UserError, match="--batch-size 1000000 needs about"):
        fresh("--batch-size", "1000000").check()


@pytest.mark.parametrize("saved", [
    {"epochs": "50"}, {"ema": True}, {"noise": "gauss"}, {"seed": 1.5},
    {"epochs": None}, {"dataset": ["a"]}, {"arch": "big"},
    {"augment": "zoom"}, {"shuffle": 1}, {"conditional": "big"},
    {"step": "fit"}, {"loss": "wasserstein"}, {"loss": None}])
def test_damaged_checkpoint_settings_are_one_line(saved):
    with pytest.raises(UserError, match="the checkpoint's settings hold .* "
                                        "the checkpoint is damaged"):
        RunConfig.from_saved(saved)


def test_conditional_classes_recorded_and_kept_on_resume():
    config = fresh("--conditional")
    assert config.conditional and config.class_names is None
    assert config.tip_flags() == ""      # said by its own "classes" line
    ready = config.for_data(10, "ab" * 20, 1, ("boots", "hats"))
    assert ready.class_names == ["boots", "hats"]
    saved = json.loads(json.dumps(ready.to_dict()))
    again = RunConfig.resumed(saved, {})
    assert again.class_names == ["boots", "hats"] and again.conditional
    again.for_data(10, "ab" * 20, 1, ("boots", "hats"))
    with pytest.raises(UserError, match="classes boots, hats, these images "
                                        "are of boots, hats, socks"):
        again.for_data(10, "ab" * 20, 1, ("boots", "hats", "socks"))
    # a conditional checkpoint without its classes is damaged
    del saved["class_names"]
    with pytest.raises(UserError, match="class_names=None.*damaged"):
        RunConfig.from_saved(saved)
    # conditioning cannot be switched on for a run that was made without
    plain = json.loads(json.dumps(fresh().for_data(
        10, "ab" * 20, 1).to_dict()))
    with pytest.raises(UserError, match="made without --conditional"):
        RunConfig.resumed(plain, {"conditional": "projection"})
    # nor its design changed
    with pytest.raises(UserError, match="made with --conditional onehot"
                                        ".* asks for it with --conditional "
                                        "projection"):
        RunConfig.resumed(saved | {"class_names": ["boots", "hats"]},
                          {"conditional": "projection"})


def test_conditional_names_its_design():
    assert fresh("--conditional").conditional == "onehot"
    assert fresh("--conditional", "projection").conditional == "projection"
    assert fresh().conditional is None
    # checkpoints written when --conditional was a switch
    assert RunConfig.from_saved({"conditional": False}).conditional is None
    assert RunConfig.from_saved({"conditional": True, "class_names": [
        "a", "b"]}).conditional == "projection"
