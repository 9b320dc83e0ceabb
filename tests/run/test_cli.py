"""Flag checks that run before any data or TensorFlow is touched."""
import os

import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.run import cli


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


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


def test_epochs_up_to_the_limit(tmp_path):
    cli.check_args(parse("--output", str(tmp_path), "--epochs", "100000"))
    with pytest.raises(UserError, match="--epochs must be from 1 to 100000, "
                                        "got 100001"):
        cli.check_args(parse("--output", str(tmp_path), "--epochs", "100001"))


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


def test_argparse_errors_are_one_user_error():
    with pytest.raises(UserError, match="argument -e/--epochs: invalid int "
                       "value: 'abc' \\(see --help\\)"):
        parse("--output", "o", "--epochs", "abc")


def test_resume_and_overwrite_contradict(tmp_path):
    with pytest.raises(UserError, match="pass one of them"):
        cli.check_args(parse("--output", str(tmp_path), "--resume",
                             "--overwrite"))


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


def test_tensorboard_folder_is_checked_before_anything_runs(tmp_path):
    (tmp_path / "tensorboard").write_text("not a folder")
    with pytest.raises(UserError, match="which is not a folder; move it "
                                        "away or train without --tensorboard"):
        cli.check_args(parse("--output", str(tmp_path), "--tensorboard"))
    cli.check_args(parse("--output", str(tmp_path)))      # only if asked


@pytest.mark.parametrize("args,fragment", [
    (["--seed", "-1"], "--seed must be from 0 to 4294967295, got -1"),
    (["--seed", str(10 ** 20)], "--seed must be from 0 to 4294967295"),
    (["--image-size", "100000"], "--image-size must be a multiple of 4 "
                                 "from 8 to 1024"),
    (["--image-size", "4"], "--image-size must be a multiple of 4"),
])
def test_numbers_out_of_their_range(tmp_path, args, fragment):
    with pytest.raises(UserError, match=fragment):
        cli.check_args(parse("--output", str(tmp_path), *args))
    cli.check_args(parse("--output", str(tmp_path), "--seed", "4294967295"))


def test_tensorboard_needs_a_utf8_folder_name(tmp_path):
    out = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"o\xff"))
    with pytest.raises(UserError, match=r"TensorFlow writes only to folders "
                       r"named in UTF-8, and .*o\\xff/tensorboard is not"):
        cli.check_args(parse("--output", out, "--tensorboard"))
    cli.check_args(parse("--output", out))     # without it, any name


def test_a_checkpoints_path_that_cannot_be_a_folder(tmp_path):
    (tmp_path / "checkpoints").write_text("in the way")
    with pytest.raises(UserError, match="checkpoints go to .*checkpoints, "
                                        "which is not a folder; move it away "
                                        "or pick another --output"):
        cli.check_args(parse("--output", str(tmp_path)))
    assert (tmp_path / "checkpoints").read_text() == "in the way"
