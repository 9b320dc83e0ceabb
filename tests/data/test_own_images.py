"""End-to-end: the training script on a folder of real photographs at
32x32x3, the decode cache, resume rules, and one-line errors for bad
data flags; generate and evaluate on a colour generator."""
import os
import shutil

import cv2
import numpy as np
import pytest

from conftest import (assert_one_line_error, assert_same_final_checkpoint,
                      info_lines, run_python, run_script, write_photo_folder)
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.config import SMALL_DATA_LINE, default_recipe

# the tutorial's recipe on a folder (a folder's default is the small-data
# recipe: test_a_folder_takes_the_small_data_recipe_by_default)
COLOUR = ["--epochs", "2", "--batch-size", "16", "--seed", "1", "--recipe",
          "tutorial"]


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    return {"DCGAN_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("data") / "photos")
    return folder, write_photo_folder(folder, count=64)


@pytest.fixture(scope="module")
def colour_run(photos, cache_env, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("colour"))
    result = run_script("--dataset", photos[0], "--output", out, *COLOUR,
                        env=cache_env)
    assert result.returncode == 0, result.stderr
    return out, result


def test_a_photo_folder_trains_in_colour(photos, colour_run):
    folder, counts = photos
    out, result = colour_run
    lines = result.stdout.splitlines()
    assert "[INFO] loading photos dataset..." in lines
    assert any(line.startswith(f"[INFO] {counts['image_files']} images found "
                               f"in {folder}: 64 used, 1 skipped; decoded in")
               for line in lines)
    assert ("[WARNING] skipped 1 unreadable or corrupt image file: "
            "nested/deeper/corrupt.jpg") in lines
    # 64 images / batch 16 = 4 steps: montages at step 0 and the last
    assert sorted(n for n in os.listdir(out) if n.endswith(".png")) == [
        "epoch_0001_output.png", "epoch_0001_step_00000.png",
        "epoch_0002_output.png", "epoch_0002_step_00000.png", "losses.png"]
    montage = cv2.imread(os.path.join(out, "epoch_0002_output.png"))
    assert montage.shape == (512, 512, 3)        # 16x16 tiles of 32x32
    # three channels of their own, not grey repeated (after 8 steps the
    # colours are faint; that red stays red is tested in test_montage.py
    # and test_folders.py)
    assert (montage[..., 0] != montage[..., 2]).mean() > 0.3
    from PIL import Image
    with Image.open(os.path.join(out, "training.gif")) as gif:
        # epochs of a fraction of a second refresh the plots less often,
        # but the run's last epoch always: both epochs are in them
        assert gif.n_frames == 2
        frame = np.asarray(gif.convert("RGB"))
        assert frame.shape == (512, 512, 3)
        assert (frame[..., 0] != frame[..., 2]).mean() > 0.3
    assert os.stat(os.path.join(out, "losses.png")).st_mtime_ns >= os.stat(
        os.path.join(out, "epoch_0002_output.png")).st_mtime_ns
    import keras
    gen = keras.models.load_model(os.path.join(out, "generator.keras"))
    assert gen.output_shape == (None, 32, 32, 3)
    _, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    settings = meta["settings"]
    assert (settings["dataset"], settings["image_size"],
            settings["channels"]) == (folder, 32, 3)


def test_resume_reads_the_cache_and_refuses_other_data(photos, colour_run,
                                                       cache_env, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(colour_run[0], out)
    for flags, fragment in [
            (["--image-size", "16"],
             "made with --image-size 32, and this resume asks for it with "
             "--image-size 16"),
            (["--channels", "1"], "made with --channels 3, and this resume "
                                  "asks for it with --channels 1"),
            (["--dataset", "mnist"],
             f"made with --dataset {photos[0]}, and this resume asks for it "
             "with --dataset mnist")]:
        result = run_script("--output", out, "--resume", "--epochs", "3",
                            *flags, env=cache_env)
        assert_one_line_error(result, fragment, "--epochs or --kimg, may rise")
        assert "[INFO] loading" not in result.stdout
    result = run_script("--output", out, "--resume", "--epochs", "3",
                        env=cache_env)
    assert result.returncode == 0, result.stderr
    assert any("images found in" in line and "read from the cache" in line
               for line in info_lines(result.stdout))
    assert "[INFO] starting epoch 3 of 3..." in result.stdout
    # images moved away since: said at once, before anything loads
    state, meta, arrays = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    meta["settings"]["dataset"] = str(tmp_path / "moved")
    ckpt.save_checkpoint(out, 10 ** 6, state, meta, arrays)
    result = run_script("--output", out, "--resume", env=cache_env)
    assert_one_line_error(result, f"images were in {tmp_path / 'moved'}, "
                          "which is no longer a folder; put them back")
    assert "[INFO] loading" not in result.stdout


@pytest.mark.parametrize("flags,fragment", [
    (["--dataset", "/no/such/folder"],
     "--dataset /no/such/folder is neither one of fashion_mnist, mnist, "
     "cifar10 nor a folder of images"),
    (["--image-size", "30"], "--image-size must be a multiple of 4"),
    (["--image-size", "4"], "from 8 to 1024"),
    (["--channels", "2"], "--channels must be 1 (grey) or 3 (colour), got 2"),
    (["--dataset", "{photos}", "--image-size", "12", "--metrics-every", "1"],
     "needs images of at least 16x16"),
    (["--dataset", "{photos}", "--augment", "zoom"],
     "--augment takes a comma-separated list of flip, color, translation, cutout"),
    (["--dataset", "{photos}", "--arch", "radford", "--image-size", "24"],
     "--image-size must be a power of two from 16"),
    (["--arch", "radford"], "must be a power of two from 16 (16, 32, 64, "
                            "...), got 28"),
    (["--arch", "big"], "invalid choice: 'big'"),
    (["--dataset", "{photos}", "--data-dir", "{photos}"],
     "--data-dir is for the named datasets"),
])
def test_bad_data_flags_fail_before_loading(photos, tmp_path, flags,
                                            fragment):
    flags = [flag.format(photos=photos[0]) for flag in flags]
    result = run_script("--output", str(tmp_path / "out"), *flags,
                        timeout=60)
    assert_one_line_error(result, fragment)
    assert "[INFO] loading" not in result.stdout


def test_folders_that_cannot_make_a_batch(photos, cache_env, tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("no images here")
    assert_one_line_error(run_script("--dataset", str(empty), "--output",
                                     str(tmp_path / "a"), env=cache_env),
                          "no images (.jpg, .jpeg, .png")
    assert_one_line_error(run_script("--dataset", photos[0], "--output",
                                     str(tmp_path / "b"), "--recipe",
                                     "tutorial", env=cache_env),
                          "--batch-size 128 is larger than the 64 training "
                          "images")


def test_a_folder_takes_the_small_data_recipe_by_default(cache_env,
                                                         tmp_path):
    """A folder run that names no recipe: the small-data recipe, said in
    its first line, its batch of 32 and its budget (here refused: 20
    images cannot make a batch of 32, after the data loads)."""
    folder = str(tmp_path / "few")
    write_photo_folder(folder, count=20)
    result = run_script("--dataset", folder, "--output", str(tmp_path / "o"),
                        env=cache_env)
    assert_one_line_error(result, "--batch-size 32 is larger than the 20 "
                          "training images")
    assert info_lines(result.stdout)[0] == SMALL_DATA_LINE
    # a setting the recipe cannot take: the error alone, before the data
    bad = run_script("--dataset", folder, "--output", str(tmp_path / "b"),
                     "--mbstd", "--batch-size", "30", env=cache_env)
    assert_one_line_error(bad, "--batch-size must be a multiple of 4")
    assert bad.stdout == ""
    # the named data sets keep the tutorial's, as does --distribute
    assert default_recipe({"dataset": None}) == "tutorial"
    assert default_recipe({"dataset": "cifar10"}) == "tutorial"
    assert default_recipe({"dataset": folder}) == "small-data"
    assert default_recipe({"dataset": folder}, "mirrored") == "tutorial"
    assert default_recipe({"dataset": folder, "step": "keras"}) == "tutorial"
    assert default_recipe({"dataset": folder, "recipe": "tutorial"}) == \
        "tutorial"


@pytest.mark.slow      # three runs of the XLA-compiled step
def test_the_folder_default_pauses_and_resumes_exactly(photos, cache_env,
                                                       tmp_path):
    """The recipe a folder gets when it names none (XLA, spectral norm,
    the ramped average, half the widths) for a length in images shown: a
    run paused after epoch 1 ends as the run trained in one go."""
    flags = ["--dataset", photos[0], "--kimg", "0.128", "--seed", "2"]
    whole_out, paused_out = str(tmp_path / "whole"), str(tmp_path / "paused")
    whole = run_script("--output", whole_out, *flags, env=cache_env)
    assert whole.returncode == 0, whole.stderr
    assert info_lines(whole.stdout)[0] == SMALL_DATA_LINE
    assert ("[INFO] GAN tips on: --ema 0.999 --step tape --loss hinge "
            "--spectral-norm --ema-rampup 0.05 --xla --width 0.5"
            in whole.stdout)
    first = run_script("--output", paused_out, *flags, "--pause-after", "1",
                       env=cache_env)
    assert first.returncode == 0, first.stderr
    second = run_script("--output", paused_out, "--resume", env=cache_env)
    assert second.returncode == 0, second.stderr
    assert "[INFO] resumed from" in second.stdout
    state = assert_same_final_checkpoint(whole_out, paused_out)
    assert any(name.startswith("generator_ema/") for name in state)


def test_generate_and_evaluate_a_colour_generator(colour_run, cache_env,
                                                 tmp_path):
    model = os.path.join(colour_run[0], "generator.keras")
    result = run_python("generate.py", model, "--output", tmp_path, "--num",
                        "4", "--singles")
    assert result.returncode == 0, result.stderr
    grid = cv2.imread(str(tmp_path / "samples_seed0.png"))
    single = cv2.imread(str(tmp_path / "sample_seed0_0000.png"))
    assert grid.shape == (128, 128, 3) and single.shape == (64, 64, 3)
    checkpoint = ckpt.latest_checkpoint(colour_run[0])
    result = run_python("generate.py", checkpoint, "--output", tmp_path,
                        "--num", "1", "--seed", "9")
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(tmp_path / "samples_seed9.png")).shape == \
        (64, 64, 3)
    # measured against the folder it was trained on, by the SWD alone
    result = run_python("evaluate.py", model, "--num", "64", env=cache_env)
    assert result.returncode == 0, result.stderr
    assert "[INFO] real images: 64 from" in result.stdout
    assert "FD=" not in result.stdout
    floor = [line for line in result.stdout.splitlines()
             if line.startswith("[INFO] real-data floor: SWD=")]
    assert len(floor) == 1 and "32px" in floor[0] and "16px" in floor[0]
    assert f"[INFO] {model}: SWD=" in result.stdout
    # no checkpoint beside it: which data is not guessed
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(model, lone / "g.keras")
    assert_one_line_error(run_python("evaluate.py", lone / "g.keras"),
                          "no checkpoint beside", "pass --dataset")
    # too few real images for a floor, another file's columns: refused
    # before measuring
    assert_one_line_error(run_python("evaluate.py", model, "--limit", "3",
                                     env=cache_env), "at least 4 real")
    other = tmp_path / "other.csv"
    other.write_text("epoch,fd\n")
    refused = run_python("evaluate.py", model, "--csv", other, env=cache_env)
    assert_one_line_error(refused, "holds other columns")
    assert "[INFO] real-data floor" not in refused.stdout
    # real images that are not there are one line
    assert_one_line_error(run_python("evaluate.py", model, "--dataset",
                                     tmp_path / "gone"),
                          "is neither one of fashion_mnist")
