"""End-to-end: a run's length in images shown (--kimg), a time budget
(--minutes) that ends a run at a step boundary with its outputs and goes
on exactly with --resume, and the small-data recipe's switches recorded in
the checkpoint and refused when a resume changes them."""
import os

import numpy as np
import pytest

from conftest import (assert_one_line_error, run_script, trained_once)
from pyimagesearch.runfiles import checkpoint as ckpt

# 320 Fashion-MNIST images at 16x16 / batch 32 = 10 steps an epoch;
# 0.64 kimg = 2 epochs; the lazy R1 penalty on steps 0 and 16
RECIPE = ["--limit", "320", "--batch-size", "32", "--image-size", "16",
          "--kimg", "0.64", "--seed", "4", "--step", "tape", "--loss",
          "hinge", "--spectral-norm", "--r1", "0.05", "--ema", "0.9",
          "--ema-rampup", "0.05"]


def weights(path):
    import keras
    return keras.models.load_model(path).get_weights()


@pytest.fixture(scope="module")
def whole(tmp_path_factory, real_data):
    return trained_once(tmp_path_factory, "recipe", RECIPE)


def test_kimg_gives_whole_epochs_and_the_recipe_is_recorded(whole):
    out, result = whole
    assert "[INFO] --kimg 0.64: 2 epochs of 10 steps (0.64 kimg shown)" \
        in result.stdout
    assert "[INFO] starting epoch 2 of 2..." in result.stdout
    assert ("[INFO] GAN tips on: --ema 0.9 --step tape --loss hinge "
            "--spectral-norm --r1 0.05 --ema-rampup 0.05") in result.stdout
    state, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    settings = meta["settings"]
    assert (settings["kimg"], settings["epochs"], settings["spectral_norm"],
            settings["r1"], settings["ema_rampup"]) == (0.64, 2, True, 0.05,
                                                         0.05)
    assert any("vector_u" in name for name in state)
    assert "[INFO] training complete in" in result.stdout


def test_minutes_stop_at_a_step_and_resume_exactly(whole, tmp_path):
    out = str(tmp_path / "budget")
    # a budget spent by the first step: the run ends after it, mid-epoch
    first = run_script("--output", out, *RECIPE, "--minutes", "0.0001")
    assert first.returncode == 0, first.stderr
    assert "[INFO] --minutes 0.0001 spent after step 1_0; checkpoint " \
        "saved to" in first.stdout
    assert "[INFO] training stopped in" in first.stdout
    assert ("--resume --minutes 0.0001" in first.stdout.splitlines()[-1])
    for name in ("generator.keras", "generator_ema.keras", "losses.png",
                 "epoch_0001_step_00000.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    meta = ckpt.load_meta(ckpt.latest_checkpoint(out))
    assert (meta["epoch"], meta["batch"]) == (0, 1)
    # --resume --minutes M: M more, from the step it stopped at
    second = run_script("--output", out, "--resume", "--minutes", "0.0001")
    assert second.returncode == 0, second.stderr
    assert "spent after step 1_1" in second.stdout
    assert os.path.isfile(os.path.join(out, "epoch_0001_step_00001.png"))
    # and to the end of the run's --kimg, as if never stopped
    third = run_script("--output", out, "--resume")
    assert third.returncode == 0, third.stderr
    assert "[INFO] training complete in" in third.stdout
    for name in ("generator.keras", "generator_ema.keras"):
        for a, b in zip(weights(os.path.join(out, name)),
                        weights(os.path.join(whole[0], name))):
            np.testing.assert_array_equal(a, b)
    mine, theirs = (ckpt.load_checkpoint(ckpt.latest_checkpoint(folder))[0]
                    for folder in (out, whole[0]))
    for name in theirs:     # D's weights and u vectors, the optimizers
        np.testing.assert_array_equal(mine[name], theirs[name], name)
    # --kimg may rise on resume; the finished run then trains on
    done = run_script("--output", out, "--resume")
    assert "nothing to do (to train longer: --resume --kimg N, with N " \
        "above 0.64)" in done.stdout


def test_a_resume_that_changes_the_recipe_or_its_length_is_refused(whole,
                                                                   tmp_path):
    out = whole[0]
    for flags, fragment in (
            (["--r1", "0.1"], "made with --r1 0.05, and this resume asks for "
                              "it with --r1 0.1"),
            (["--ema-rampup", "0.1"], "made with --ema-rampup 0.05"),
            (["--epochs", "5"], "the run's length is --kimg 0.64: to train "
                                "longer, raise --kimg")):
        result = run_script("--output", out, "--resume", *flags)
        assert_one_line_error(result, fragment)
        assert "[INFO] loading" not in result.stdout
    result = run_script("--output", out, "--resume", "--kimg", "0.3")
    assert_one_line_error(result, "--kimg must be at least 0.64")


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
