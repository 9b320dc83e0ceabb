"""Flag checks that run before any data or TensorFlow is touched."""
import os

import pytest

from pyimagesearch import settings as cli
from pyimagesearch.errors import UserError


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def test_defaults_are_the_tutorials(tmp_path):
    args = parse("--output", str(tmp_path))
    run = cli.resolve_settings(args)
    assert run == {"epochs": 50, "batch_size": 128, "limit": None,
                   "seed": None, "mixed_precision": False,
                   "shared_optimizer": False, "dataset": "fashion_mnist",
                   "image_size": None, "channels": None,
                   # the GAN tips: off, and the tutorial's learning rates
                   "noise": "uniform", "disc_dropout": 0.0,
                   "label_smoothing": 0.0, "label_noise": 0.0,
                   "disc_lr": 2e-4, "gan_lr": 2e-4, "ema": None}
    assert cli.tip_flags(run) == ""


def test_output_is_required():
    with pytest.raises(UserError, match="the following arguments are "
                                        "required: -o/--output"):
        parse()


@pytest.mark.parametrize("flag,value,fragment", [
    ("--epochs", "0", "--epochs must be a positive integer, got 0"),
    ("--epochs", "-3", "--epochs must be a positive integer, got -3"),
    ("--batch-size", "0", "--batch-size must be a positive integer"),
    ("--limit", "0", "--limit must be a positive integer"),
    ("--keep-checkpoints", "-1", "--keep-checkpoints must be 0 or more"),
])
def test_non_positive_values(tmp_path, flag, value, fragment):
    with pytest.raises(UserError, match=fragment):
        cli.check_args(parse("--output", str(tmp_path), flag, value))


def test_batch_larger_than_limit(tmp_path):
    # the default batch of 128 counts too, and the checkpoint's on resume
    for flags in (["--limit", "10", "--batch-size", "64"], ["--limit", "10"]):
        run = cli.resolve_settings(parse("--output", str(tmp_path), *flags))
        with pytest.raises(UserError, match="--batch-size (64|128) is larger "
                                            "than --limit 10"):
            cli.check_settings(run)


def test_output_is_created(tmp_path):
    out = tmp_path / "a" / "b"
    cli.check_args(parse("--output", str(out)))
    assert out.is_dir() and os.listdir(out) == []


def test_output_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("keep me")
    with pytest.raises(UserError, match="is a file, not a folder"):
        cli.check_args(parse("--output", str(f)))
    assert f.read_text() == "keep me"


def test_output_that_cannot_be_written():
    with pytest.raises(UserError, match="cannot be written"):
        cli.check_args(parse("--output", "/proc/dcgan-output"))


def test_resume_takes_checkpoint_settings(tmp_path):
    saved = {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1,
             "num_images": 640}
    run = cli.resolve_settings(parse("--output", "o"), saved)
    assert run == {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1,
                   "mixed_precision": False, "shared_optimizer": False,
                   "dataset": "fashion_mnist", "image_size": 28,
                   "channels": 1,
                   **{key: cli.DEFAULTS[key] for key in cli.TIPS}}
    # raising --epochs is how a finished run trains longer
    run = cli.resolve_settings(parse("--output", "o", "--epochs", "5"), saved)
    assert run["epochs"] == 5
    # repeating a setting unchanged is fine
    cli.resolve_settings(parse("--output", "o", "--batch-size", "64"), saved)


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
        cli.resolve_settings(parse("--output", "o", *flags), saved)
    assert str(info.value).startswith(
        f"the checkpoint was made {saved_as}, and this resume asks for it "
        f"{asked_as}: leave the flag out")
    assert "--epochs may rise" in str(info.value)


def test_unseeded_checkpoint_says_without():
    saved = {"epochs": 2, "batch_size": 64, "limit": None, "seed": None}
    with pytest.raises(UserError, match="made without --seed, and this "
                       "resume asks for it with --seed 5"):
        cli.resolve_settings(parse("--output", "o", "--seed", "5"), saved)


def test_argparse_errors_are_one_user_error():
    with pytest.raises(UserError, match="argument -e/--epochs: invalid int "
                       "value: 'abc' \\(see --help\\)"):
        parse("--output", "o", "--epochs", "abc")


def test_resume_and_overwrite_contradict(tmp_path):
    with pytest.raises(UserError, match="pass one of them"):
        cli.check_args(parse("--output", str(tmp_path), "--resume",
                             "--overwrite"))


def test_checkpoints_from_before_datasets_are_fashion_mnist_28x28x1():
    saved = {"epochs": 2, "batch_size": 64, "limit": 640, "seed": 1}
    run = cli.resolve_settings(parse("--output", "o", "--image-size", "28",
                                     "--channels", "1"), saved)
    assert (run["dataset"], run["image_size"], run["channels"]) == \
        ("fashion_mnist", 28, 1)
    with pytest.raises(UserError, match="made with --image-size 28, and this "
                       "resume asks for it with --image-size 32"):
        cli.resolve_settings(parse("--output", "o", "--image-size", "32"),
                             saved)


def test_a_folder_dataset_is_recorded_as_an_absolute_path(tmp_path,
                                                          monkeypatch):
    (tmp_path / "pics").mkdir()
    monkeypatch.chdir(tmp_path)
    run = cli.resolve_settings(parse("--output", "o", "--dataset", "pics"))
    assert run["dataset"] == str(tmp_path / "pics")


@pytest.mark.parametrize("args,fragment", [
    (["--disc-dropout", "1"], "--disc-dropout must be at least 0 and below 1"),
    (["--disc-dropout", "-0.1"], "--disc-dropout must be at least 0"),
    (["--label-smoothing", "1.5"], "--label-smoothing must be at least 0"),
    (["--label-noise", "nan"], "--label-noise must be at least 0"),
    (["--ema", "1"], "--ema must be a decay above 0 and below 1"),
    (["--ema", "0"], "--ema must be a decay above 0 and below 1"),
    (["--disc-lr", "0"], "--disc-lr must be a positive learning rate"),
    (["--gan-lr=-2e-4"], "--gan-lr must be a positive learning rate"),
    (["--gan-lr", "inf"], "--gan-lr must be a positive learning rate"),
])
def test_bad_tip_values(tmp_path, args, fragment):
    with pytest.raises(UserError, match=fragment):
        cli.check_args(parse("--output", str(tmp_path), *args))


def test_unknown_noise_is_one_line():
    with pytest.raises(UserError, match="--noise: invalid choice: 'gauss'"):
        parse("--output", "x", "--noise", "gauss")


def test_tip_flags_name_what_differs_from_the_tutorial(tmp_path):
    run = cli.resolve_settings(parse(
        "--output", str(tmp_path), "--noise", "normal", "--disc-dropout",
        "0.3", "--gan-lr", "1e-4", "--ema", "0.999", "--label-noise", "0"))
    assert cli.tip_flags(run) == ("--noise normal --disc-dropout 0.3 "
                                  "--gan-lr 0.0001 --ema 0.999")


@pytest.mark.parametrize("flag,value", [
    ("--noise", "normal"), ("--disc-dropout", "0.2"),
    ("--label-smoothing", "0.1"), ("--label-noise", "0.05"),
    ("--disc-lr", "1e-4"), ("--gan-lr", "1e-4"), ("--ema", "0.99")])
def test_tips_are_fixed_on_resume(tmp_path, flag, value):
    saved = cli.resolve_settings(parse("--output", str(tmp_path)))
    with pytest.raises(UserError, match=f"the checkpoint was made without "
                       f"{flag}|the checkpoint was made with {flag}"):
        cli.resolve_settings(parse("--output", str(tmp_path), flag, value),
                             saved)
    # a checkpoint from before the tips existed was made without them
    old = {key: value for key, value in saved.items()
           if key not in cli.TIPS}
    assert cli.resolve_settings(parse("--output", str(tmp_path)),
                                old) == saved


def test_one_shared_optimizer_has_one_learning_rate(tmp_path):
    run = cli.resolve_settings(parse("--output", str(tmp_path),
                                     "--shared-optimizer", "--gan-lr", "1e-4"))
    with pytest.raises(UserError, match="one Adam, so one learning rate"):
        cli.check_settings(run)
    run.update(disc_lr=1e-4)
    cli.check_settings(run)


def test_tensorboard_folder_is_checked_before_anything_runs(tmp_path):
    (tmp_path / "tensorboard").write_text("not a folder")
    with pytest.raises(UserError, match="which is not a folder; move it "
                                        "away or train without --tensorboard"):
        cli.check_args(parse("--output", str(tmp_path), "--tensorboard"))
    cli.check_args(parse("--output", str(tmp_path)))      # only if asked


def test_tip_flags_are_exact_and_name_only_tips():
    assert cli.tip_flags(dict(cli.DEFAULTS, ema=0.9999999)) == \
        "--ema 0.9999999"
    assert cli.tip_flags(dict(cli.DEFAULTS, shared_optimizer=True)) == ""
    assert cli.as_flag("disc_dropout", 0.0) == "without --disc-dropout"
    assert cli.as_flag("label_noise", 0.05) == "with --label-noise 0.05"
    assert cli.as_flag("noise", "uniform") == "with --noise uniform"
