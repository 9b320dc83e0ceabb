"""The budgets' and the small-data recipe's flags: a bad value is one
line before any data loads (their runs: tests/scripts/test_small_data.py)."""
import pytest

from conftest import assert_one_line_error, run_script


@pytest.mark.parametrize("flags, fragment", [
    (["--kimg", "0"], "--kimg must be above 0 and at most 100000"),
    (["--kimg", "1e9"], "--kimg must be above 0"),
    (["--kimg", "nan"], "--kimg must be above 0"),
    (["--kimg", "5", "--epochs", "3"], "--kimg and --epochs both give"),
    (["--minutes", "0"], "--minutes must be above 0 and at most 10080"),
    (["--minutes", "inf"], "--minutes must be above 0"),
    (["--minutes", "1", "--distribute", "multi-worker"],
     "--minutes would stop each worker"),
    (["--r1", "0"], "--r1 must be a gamma above 0 and at most 100"),
    (["--r1", "500", "--step", "tape"], "--r1 must be a gamma"),
    (["--r1", "0.1"], "--r1 needs --step tape"),
    (["--xla"], "--xla compiles the tape step: give --step tape"),
    (["--xla", "--distribute", "mirrored", "--cpu-replicas", "2"],
     "--xla is for one device: leave out --distribute"),
    (["--ada", "0.6", "--augment", "color", "--step", "tape", "--distribute",
      "mirrored", "--cpu-replicas", "2"], "--ada is for one device"),
    (["--ada", "0.6"], "--ada adapts --augment's strength on the tape step"),
    (["--ada", "1", "--augment", "color", "--step", "tape"],
     "--ada must be a target above 0 and below 1"),
    (["--augment", "flip,colour"], "--augment takes a comma-separated list "
                                   "of flip, color, translation, cutout"),
    (["--mbstd"], "--mbstd needs --step tape"),
    (["--mbstd", "--step", "tape", "--batch-size", "30"],
     "--batch-size must be a multiple of 4, got 30"),
    (["--mbstd", "--step", "tape", "--conditional"],
     "--mbstd is for unconditional runs"),
    (["--mbstd", "--step", "tape", "--distribute", "mirrored",
      "--cpu-replicas", "2"], "--mbstd is for one device"),
    (["--self-supervised"], "--self-supervised needs --step tape"),
    (["--self-supervised", "--step", "tape", "--conditional"],
     "--self-supervised is for unconditional runs"),
    (["--self-supervised", "--step", "tape", "--shared-optimizer"],
     "--self-supervised trains its decoder with D's Adam"),
    (["--self-supervised", "--step", "tape", "--distribute", "mirrored",
      "--cpu-replicas", "2"], "--self-supervised is for one device"),
    (["--width", "0"], "--width must be from 0.125 to 4"),
    (["--width", "nan"], "--width must be from 0.125 to 4"),
    (["--arch", "radford", "--image-size", "128", "--width", "inf"],
     "--width must be from 0.125 to 4"),
    (["--arch", "radford", "--image-size", "512", "--width", "0.125"],
     "halves its channels down to none at --width 0.125"),
    (["--ema-rampup", "0.05"], "--ema-rampup ramps the moving average of "
                               "--ema"),
    (["--ema", "0.99", "--ema-rampup", "2"], "--ema-rampup must be above 0 "
                                             "and at most 1"),
])
def test_a_bad_budget_or_recipe_value_is_one_line_before_the_data(
        flags, fragment, tmp_path):
    result = run_script("--output", str(tmp_path / "out"), *flags)
    assert_one_line_error(result, fragment)
    assert "[INFO] loading" not in result.stdout
