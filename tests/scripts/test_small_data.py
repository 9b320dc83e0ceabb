"""End-to-end: the small-data switches (--arch radford, --augment,
--shuffle) and recipe (--spectral-norm, --r1, --ema-rampup) with the SWD
measured every epoch and the best generator kept, on the tape step with
the hinge loss, class-conditional, one Adam, for a length in images shown
(--kimg): recorded in the checkpoint and resumed exactly after a time
budget (--minutes) ended it mid-epoch (the one end-to-end stop and
resume of the tape step; tests/gan/test_tips.py has the train_on_batch
step's, by --pause-after); evaluate.py (with --nearest) and compare.py on
such a run."""
import csv
import os

import numpy as np
import pytest

from conftest import (assert_one_line_error, assert_same_final_checkpoint,
                      pngs, run_python, run_script, trained_once)
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.runfiles.config import RunConfig
from pyimagesearch.run.state import RunState

# 640 Fashion-MNIST images at 32x32 / batch 64 = 10 steps an epoch;
# 1.28 kimg = 2 epochs; the lazy R1 penalty on steps 0 and 16; the DCGAN
# paper's models at half their widths (4x4x128 at G's start)
SMALL_DATA = ["--limit", "640", "--batch-size", "64", "--image-size", "32",
              "--kimg", "1.28", "--seed", "3", "--arch", "radford",
              "--augment", "flip,color,translation,cutout", "--shuffle",
              "--ema", "0.9", "--metrics-every", "1", "--step", "tape",
              "--loss", "hinge", "--conditional", "--shared-optimizer",
              "--spectral-norm", "--r1", "0.05", "--ema-rampup", "0.05",
              "--ada", "0.6", "--width", "0.5"]
GENERATORS = ("generator.keras", "generator_ema.keras",
              "generator_best.keras", "generator_ema_best.keras")


def weights(path):
    import keras
    return keras.models.load_model(path).get_weights()


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def whole(tmp_path_factory, real_data):
    return trained_once(tmp_path_factory, "small", SMALL_DATA)


def test_switches_are_announced_and_recorded(whole):
    out, result = whole
    assert ("[INFO] GAN tips on: --ema 0.9 --arch radford --augment "
            "flip,color,translation,cutout --step tape --loss hinge "
            "--spectral-norm --r1 0.05 --ema-rampup 0.05 --ada 0.6 --width "
            "0.5 --shuffle"
            ) in result.stdout
    assert "[INFO] --kimg 1.28: 2 epochs of 10 steps (1.28 kimg shown)" \
        in result.stdout
    assert "[INFO] starting epoch 2 of 2..." in result.stdout
    state, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    settings = meta["settings"]
    assert (settings["arch"], settings["augment"], settings["shuffle"],
            settings["step"], settings["loss"], settings["conditional"],
            settings["shared_optimizer"], settings["spectral_norm"],
            settings["r1"], settings["ema_rampup"], settings["kimg"],
            settings["epochs"]) == \
        ("radford", "flip,color,translation,cutout", True, "tape", "hinge",
         "onehot", True, True, 0.05, 0.05, 1.28, 2)
    assert (settings["ada"], settings["width"]) == (0.6, 0.5)
    # G's first layer: the noise and the one-hot class (100 + 10) to
    # 4x4x(8 * 32 * 0.5)
    assert state["generator/04_Dense/kernel"].shape == (110, 4 * 4 * 128)
    # D grew sure of the real images at once: p rose from 0, by 4 x 64
    # images / 100k every 4 steps, up to 5 times in 20 steps
    p = float(state["augment/probability"])
    assert 0 < p <= 5 * 256 / 100000
    assert f"[INFO] --ada: augmentation strength p={p:.4f} after epoch 2" \
        in result.stdout
    # D under spectral normalisation: its u vectors travel too, and no
    # BatchNorm is left in it
    assert any("vector_u" in name and name.startswith("discriminator/")
               for name in state)
    # one Adam for both models: its counter advances twice a step
    assert int(state["optimizer/iteration"]) == 2 * 20
    assert not any(name.startswith(("disc_optimizer", "gan_optimizer"))
                   for name in state)
    # the augmentation's random stream travels with the weights
    assert "augment/seed_state" in state
    assert not any("moving_mean" in name and "discriminator/" in name
                   for name in state)


def test_swd_every_epoch_and_the_best_generators_kept(whole):
    out, result = whole
    for name, label in (("metrics.csv", "metrics"),
                        ("ema_metrics.csv", "EMA metrics")):
        rows = read_rows(os.path.join(out, name))
        assert list(rows[0]) == ["epoch", "swd", "swd_32", "swd_16",
                                 "best_epoch"]
        assert rows[0]["epoch"] == "real-data floor"
        measured = rows[1:]
        assert [row["epoch"] for row in measured] == ["1", "2"]
        # best_epoch: the epoch with the lowest SWD up to that row
        for index, row in enumerate(measured):
            upto = measured[:index + 1]
            best = min(upto, key=lambda r: float(r["swd"]))
            assert row["best_epoch"] == best["epoch"]
        assert float(rows[0]["swd"]) < min(float(r["swd"]) for r in measured)
        assert f"[INFO] {label} at epoch 2: SWD=" in result.stdout
    assert "[INFO] best SWD so far (" in result.stdout
    for name in GENERATORS:
        assert os.path.isfile(os.path.join(out, name))


def test_evaluate_reproduces_the_best_generator_s_number(whole):
    out, _ = whole
    rows = read_rows(os.path.join(out, "metrics.csv"))
    best = [row for row in rows[1:]
            if row["epoch"] == rows[-1]["best_epoch"]][0]
    result = run_python("evaluate.py",
                        os.path.join(out, "generator_best.keras"))
    assert result.returncode == 0, result.stderr
    # the run's own data (its --limit) at the generator's size
    assert "[INFO] real images: 640 from" in result.stdout
    line = [line for line in result.stdout.splitlines()
            if "generator_best.keras: SWD=" in line][0]
    assert float(line.split("SWD=")[1].split(" ")[0]) == pytest.approx(
        float(best["swd"]), abs=0.006)


@pytest.mark.slow      # end to end, and slow: README's second command
def test_minutes_stop_at_a_step_and_resume_exactly(whole, tmp_path):
    out = str(tmp_path / "budget")
    # a budget spent by the first step: the run ends after it, mid-epoch,
    # with a checkpoint, that step's montages, the plots and generators
    first = run_script("--output", out, *SMALL_DATA, "--minutes", "0.0001")
    assert first.returncode == 0, first.stderr
    assert "[INFO] --minutes 0.0001 spent after step 1_0; checkpoint " \
        "saved to" in first.stdout
    assert "[INFO] training stopped in" in first.stdout
    assert first.stdout.splitlines()[-1].endswith(
        "--resume --metrics-every 1 --minutes 0.0001")
    for name in ("generator.keras", "generator_ema.keras", "losses.png",
                 "epoch_0001_step_00000.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    meta = ckpt.load_meta(ckpt.latest_checkpoint(out))
    assert (meta["epoch"], meta["batch"]) == (0, 1)
    # a changed switch or length is refused, in one line, before any data
    for flags, fragment in (
            (["--augment", "color"], "made with --augment flip,color,"
                                     "translation,cutout, and this resume "
                                     "asks for it with --augment color"),
            (["--ada", "0.7"], "made with --ada 0.6"),
            (["--arch", "tutorial"], "made with --arch radford"),
            (["--step", "keras"], "made with --step tape"),
            (["--r1", "0.1"], "made with --r1 0.05, and this resume asks "
                              "for it with --r1 0.1"),
            (["--ema-rampup", "0.1"], "made with --ema-rampup 0.05"),
            (["--width", "1"], "made with --width 0.5"),
            (["--epochs", "5"], "the run's length is --kimg 1.28: to train "
                                "longer, raise --kimg")):
        result = run_script("--output", out, "--resume", *flags)
        assert_one_line_error(result, fragment)
        assert "[INFO] loading" not in result.stdout
    # then to the end of its --kimg, as if never stopped (--metrics-every
    # says how a run reports, not what it is: given again; --resume
    # --minutes M would train M more: tests/run/test_hooks.py)
    second = run_script("--output", out, "--resume", "--metrics-every", "1")
    assert second.returncode == 0, second.stderr
    assert "[INFO] training complete in" in second.stdout
    assert pngs(out) == pngs(whole[0])
    # D's weights and u vectors, the optimizer
    assert_same_final_checkpoint(out, whole[0])
    done = run_script("--output", out, "--resume")
    assert "nothing to do (to train longer: --resume --kimg N, with N " \
        "above 1.28)" in done.stdout
    # fewer than it has trained: refused (2 epochs begun: above 1 epoch's)
    assert_one_line_error(run_script("--output", out, "--resume", "--kimg",
                                     "0.5"), "--kimg must be above 0.64")
    for name in GENERATORS:
        for a, b in zip(weights(os.path.join(out, name)),
                        weights(os.path.join(whole[0], name))):
            np.testing.assert_array_equal(a, b)
    for name in ("metrics.csv", "ema_metrics.csv"):
        assert read_rows(os.path.join(out, name)) == read_rows(
            os.path.join(whole[0], name))


def test_evaluate_nearest_pairs_samples_with_their_nearest_images(whole,
                                                                 tmp_path):
    import cv2
    png = str(tmp_path / "nearest.png")
    result = run_python("evaluate.py",
                        os.path.join(whole[0], "generator_ema.keras"),
                        "--nearest", png, "--num", "100")
    assert result.returncode == 0, result.stderr
    line = [line for line in result.stdout.splitlines()
            if line.startswith("[INFO] nearest real image")][0]
    assert "for 100 samples" in line and "for 64 held-out real images" \
        in line
    # 32 pairs of 32x32 tiles, 8 a row
    assert cv2.imread(png).shape == (8 * 32, 8 * 32, 3)
    model = os.path.join(whole[0], "generator.keras")
    assert_one_line_error(run_python(
        "evaluate.py", model, "--nearest", str(tmp_path / "no" / "n.png")),
        "is not a folder to write it in")
    assert_one_line_error(run_python(
        "evaluate.py", model, "--nearest", str(tmp_path / "n.jpg")),
        "name a .png file")


def test_generate_from_a_radford_checkpoint(whole, tmp_path):
    checkpoint = ckpt.latest_checkpoint(whole[0])
    result = run_python("generate.py", checkpoint, "--output", tmp_path,
                        "--num", "4", "--ema")
    assert result.returncode == 0, result.stderr
    import cv2
    # 4 samples of each of the 10 classes, one a row, 64 pixels a tile
    assert cv2.imread(str(tmp_path / "ema_samples_seed0_all.png")).shape \
        == (10 * 64, 4 * 64, 3)


def test_compare_plots_the_swd(whole, tmp_path):
    out, _ = whole
    png = str(tmp_path / "comparison.png")
    result = run_python("compare.py", out, "-o", png)
    assert result.returncode == 0, result.stderr
    rows = read_rows(os.path.join(out, "metrics.csv"))
    last = float(rows[-1]["swd"])
    assert (f"[INFO] {out}: --conditional onehot --shared-optimizer --arch "
            "radford --augment flip,color,translation,cutout --step tape "
            "--loss hinge --spectral-norm --r1 0.05 --ema-rampup 0.05 --ada "
            f"0.6 --width 0.5 --shuffle: SWD {last:.2f} at epoch 2 (lowest ") \
        in result.stdout
    import cv2
    assert cv2.imread(png) is not None
    # over images shown: 2 epochs of 10 steps of 64 images
    by_kimg = run_python("compare.py", out, "-o", png, "--x", "kimg")
    assert by_kimg.returncode == 0, by_kimg.stderr
    assert f"SWD {last:.2f} at 1.28 kimg (lowest " in by_kimg.stdout


def test_shuffle_gives_each_epoch_its_own_order():
    state = RunState()
    plain = RunConfig()
    assert state.epoch_order(1, 10, plain) is None
    seeded = RunConfig(shuffle=True, seed=3)
    first = state.epoch_order(1, 100, seeded)
    assert sorted(first) == list(range(100))
    assert not np.array_equal(first, state.epoch_order(2, 100, seeded))
    # the same again for the same epoch: a resumed epoch goes on in order
    np.testing.assert_array_equal(first, RunState().epoch_order(1, 100,
                                                                seeded))
    # unseeded runs take it from their id, which the checkpoint keeps
    unseeded = RunConfig(shuffle=True)
    again = RunState(run_id=state.run_id)
    np.testing.assert_array_equal(state.epoch_order(1, 100, unseeded),
                                  again.epoch_order(1, 100, unseeded))
    assert not np.array_equal(state.epoch_order(1, 100, unseeded),
                              RunState().epoch_order(1, 100, unseeded))


def test_compare_keeps_runs_on_other_images_apart(whole, tmp_path):
    out, _ = whole
    other = tmp_path / "other"
    other.mkdir()
    rows = open(os.path.join(out, "metrics.csv")).read().splitlines()
    floor = rows[1].split(",")
    floor[1] = "99"                     # another data set's floor
    with open(other / "metrics.csv", "w") as f:
        f.write("\n".join([rows[0], ",".join(floor)] + rows[2:]) + "\n")
    png = str(tmp_path / "c.png")
    result = run_python("compare.py", out, other, "-o", png)
    assert result.returncode == 0, result.stderr
    assert "measured against different real images" in result.stdout
    # a run without a checkpoint cannot say how many images it showed
    assert_one_line_error(run_python("compare.py", out, other, "-o", png,
                                     "--x", "kimg"),
                          f"{other} has no checkpoint that says how many "
                          "images an epoch shows")
    # an older run with FD only shares no number with a folder run
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.csv").write_text("epoch,fd,kid,kid_std,"
                                     "class_entropy_bits,min_class_share\n"
                                     "1,30,2,0.1,3.0,0.05\n")
    assert_one_line_error(run_python("compare.py", out, old, "-o", png),
                          "share no quality number")


def test_a_run_folder_samples_its_best_generator(whole, tmp_path):
    from pyimagesearch.runfiles.metrics_log import generator_to_sample
    path, why = generator_to_sample(whole[0])
    assert os.path.basename(path) in ("generator_best.keras",
                                      "generator_ema_best.keras")
    result = run_python("generate.py", whole[0], "--output", tmp_path,
                        "--num", "2")
    assert result.returncode == 0, result.stderr
    assert f"[INFO] sampling {path}: {why}" in result.stdout


@pytest.mark.slow      # end to end; tests/gan/test_decoder.py has the unit
def test_a_self_supervised_run_pauses_and_resumes_exactly(tmp_path,
                                                          real_data):
    """--self-supervised end to end: announced, its decoder and the
    decoder's Adam slots in the checkpoint, and a run paused after epoch 1
    ends as the run trained in one go."""
    flags = ["--limit", "128", "--batch-size", "32", "--epochs", "2",
             "--seed", "5", "--step", "tape", "--loss", "hinge",
             "--spectral-norm", "--augment", "translation",
             "--self-supervised"]
    whole_out, paused_out = str(tmp_path / "whole"), str(tmp_path / "paused")
    whole = run_script("--output", whole_out, *flags)
    assert whole.returncode == 0, whole.stderr
    assert ("[INFO] GAN tips on: --augment translation --step tape --loss "
            "hinge --spectral-norm --self-supervised") in whole.stdout
    first = run_script("--output", paused_out, *flags, "--pause-after", "1")
    assert first.returncode == 0, first.stderr
    second = run_script("--output", paused_out, "--resume")
    assert second.returncode == 0, second.stderr
    assert "[INFO] resumed from" in second.stdout
    state = assert_same_final_checkpoint(whole_out, paused_out)
    assert any(name.startswith("decoder/") for name in state)
    assert any(name.startswith("disc_optimizer/decoder/") for name in state)
    for a, b in zip(weights(os.path.join(whole_out, "generator.keras")),
                    weights(os.path.join(paused_out, "generator.keras"))):
        np.testing.assert_array_equal(a, b)
