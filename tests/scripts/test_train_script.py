"""End-to-end runs of the real training script on a slice of the real data:
files written, log lines, exact resume after pause / signal / kill -9,
and one-line errors for bad input."""
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from conftest import (ROOT, SCRIPT, assert_one_line_error, info_lines,
                      pngs, run_python, run_script, write_fashion_dir)
from pyimagesearch.runfiles import checkpoint as ckpt

# 1920 images / batch 64 = 30 steps an epoch: montages at steps 0 and 25
# and at the end of each epoch, as the tutorial's schedule says
SMALL = ["--limit", "1920", "--batch-size", "64", "--epochs", "2",
         "--seed", "1"]
MONTAGES = {
    "epoch_0001_step_00000.png", "epoch_0001_step_00025.png",
    "epoch_0001_output.png",
    "epoch_0002_step_00000.png", "epoch_0002_step_00025.png",
    "epoch_0002_output.png",
}


def generator_weights(folder):
    import keras
    model = keras.models.load_model(os.path.join(folder, "generator.keras"))
    return model.get_weights()


def assert_same_run(folder, reference):
    """Byte-identical montages and identical final generator weights."""
    assert pngs(folder) == pngs(reference)
    for a, b in zip(generator_weights(folder), generator_weights(reference)):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, real_data):
    out = str(tmp_path_factory.mktemp("baseline"))
    # with the script's own default for TensorFlow's C++ log level, in a
    # process of its own: what a user sees on stderr
    result = run_script("--output", out, *SMALL,
                        env={"TF_CPP_MIN_LOG_LEVEL": None}, process=True)
    assert result.returncode == 0, result.stderr
    return out, result


def start(out, *args):
    """Start the script in the background with line-buffered stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, SCRIPT, "--output", out, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def read_until(proc, marker, timeout=240):
    """Lines of stdout up to and including the first containing marker."""
    lines, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    proc.kill()
    raise AssertionError(f"never saw {marker!r}: {lines}")


def test_writes_exactly_the_tutorials_files_and_lines(baseline, real_data):
    out, result = baseline
    assert set(os.listdir(out)) == MONTAGES | {
        "generator.keras", "checkpoints", "losses.png", "training.gif",
        ".dcgan-run.lock"}
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == [
        "ckpt-00000030.npz", "ckpt-00000060.npz"]
    for name in MONTAGES:
        image = cv2.imread(os.path.join(out, name))
        assert image.shape == (448, 448, 3)
    lines = info_lines(result.stdout)
    tutorial = [line for line in lines
                if not line.startswith(("[INFO] 1920 images", "[INFO] epoch",
                                        "[INFO] at this pace",
                                        "[INFO] training complete"))]
    steps = [line.split(":")[0] for line in tutorial if "Step" in line]
    assert [line for line in tutorial if "Step" not in line] == [
        "[INFO] loading MNIST dataset...",
        "[INFO] building generator...",
        "[INFO] building discriminator...",
        "[INFO] building GAN...",
        "[INFO] starting training...",
        "[INFO] starting epoch 1 of 2...",
        "[INFO] starting epoch 2 of 2...",
    ]
    assert steps == ["[INFO] Step 1_0", "[INFO] Step 1_25", "[INFO] Step 1_29",
                     "[INFO] Step 2_0", "[INFO] Step 2_25", "[INFO] Step 2_29"]
    for line in tutorial:
        if "Step" in line:
            assert line.count("discriminator_loss=") == 1
            d_loss = float(line.split("discriminator_loss=")[1].split(",")[0])
            g_loss = float(line.split("adversarial_loss=")[1])
            assert 0 < d_loss < 5 and 0 < g_loss < 20
    assert f"[INFO] 1920 images from {real_data}" in lines
    assert any(line.startswith("[INFO] training complete") for line in lines)
    # a log that is not a terminal holds no progress-bar frames
    assert "\r" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # TensorFlow's harmless C++ errors (no GPU, grappler) are hidden
    assert "cuInit" not in result.stderr and "remapper" not in result.stderr
    assert not [line for line in result.stderr.splitlines()
                if line.startswith("E0000")]


def test_saved_generator_loads_and_generates(baseline):
    import keras
    out, _ = baseline
    gen = keras.models.load_model(os.path.join(out, "generator.keras"))
    images = gen.predict(np.random.uniform(-1, 1, (4, 100)), verbose=0)
    assert images.shape == (4, 28, 28, 1)
    assert -1 <= images.min() and images.max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("signum,after,code", [
    (signal.SIGINT, "[INFO] Step 1_0:", 130),
    (signal.SIGTERM, "[INFO] Step 2_0:", 143),
])
def test_signal_mid_epoch_checkpoints_and_resumes_exactly(
        baseline, tmp_path, signum, after, code):
    out = str(tmp_path)
    proc = start(out, *SMALL)
    read_until(proc, after)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert "[INFO] interrupted after step" in stdout
    assert f"[INFO] resume with: python {SCRIPT} --output {out} --resume" \
        in stdout.splitlines()
    _, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    assert meta["batch"] > 0, "checkpoint must be at the interrupted batch"
    assert meta["epoch"] == (0 if signum == signal.SIGINT else 1)
    # the plots brought up to the step it stopped after
    assert os.stat(os.path.join(out, "losses.png")).st_mtime_ns >= os.stat(
        ckpt.latest_checkpoint(out)).st_mtime_ns

    resumed = run_script("--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"batch {meta['batch']})" in resumed.stdout
    assert_same_run(out, baseline[0])


@pytest.mark.slow
def test_kill_9_loses_at_most_the_epoch_in_progress(baseline, tmp_path):
    out = str(tmp_path)
    proc = start(out, *SMALL)
    read_until(proc, "[INFO] starting epoch 2 of 2")
    # meanwhile no second run may use the folder
    assert_one_line_error(run_script("--output", out, "--resume"),
                          f"--output {out} is in use by another training run "
                          f"(pid {proc.pid})")
    proc.kill()
    proc.wait()
    latest = ckpt.latest_checkpoint(out)
    _, meta, _ = ckpt.load_checkpoint(latest)
    assert (meta["epoch"], meta["batch"]) >= (1, 0)
    resumed = run_script("--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, baseline[0])


@pytest.mark.slow
def test_output_turning_read_only_mid_run(baseline, tmp_path):
    out = str(tmp_path / "out")
    proc = start(out, *SMALL)
    read_until(proc, "[INFO] starting epoch 2 of 2")
    subprocess.run(["chattr", "+i", out], check=True)
    try:
        stdout, stderr = proc.communicate(timeout=120)
        result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                             stdout, stderr)
        error = assert_one_line_error(result, "could not write", out,
                                      "continue with --resume")
        assert "ckpt-00000030.npz" in error
    finally:
        subprocess.run(["chattr", "-i", out], check=True)
    resumed = run_script("--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, baseline[0])


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(baseline,
                                                             tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(baseline[0], out)
    path = ckpt.latest_checkpoint(out)
    state, meta, arrays = ckpt.load_checkpoint(path)
    # last layer diverged: NaN images
    state["generator/10_Conv2DTranspose/kernel"][:] = np.nan
    poisoned = ckpt.save_checkpoint(out, 61, state, meta, arrays, keep=0)
    before = tree(out)
    result = run_script("--output", out, "--resume", "--epochs", "3")
    assert_one_line_error(result, "non-finite loss at step 3_0",
                          "last good checkpoint", poisoned, code=3)
    assert tree(out) == before


@pytest.mark.slow      # end to end, and slow: README's second command
def test_resume_errors_are_one_line(baseline, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(baseline[0], out)
    assert_one_line_error(run_script("--output", str(tmp_path / "none"),
                                     "--resume"), "there is no folder")
    assert not os.path.exists(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_script("--output", str(tmp_path / "empty"),
                                     "--resume"), "no checkpoint in")
    assert_one_line_error(run_script("--output", out, "--resume",
                                     "--batch-size", "32"),
                          "made with --batch-size 64, and this resume asks "
                          "for it with --batch-size 32",
                          "leave the flag out", "--epochs or --kimg, may rise")
    assert_one_line_error(run_script("--output", out, "--resume",
                                     "--epochs", "1"),
                          "already trained 2 epochs")
    # a finished run trains longer by raising --epochs
    longer = run_script("--output", out, "--resume", "--epochs", "3",
                        "--pause-after", "1")
    assert longer.returncode == 0, longer.stderr
    assert "[INFO] starting epoch 3 of 3..." in longer.stdout
    assert "epoch_0003_output.png" in os.listdir(out)

    latest = ckpt.latest_checkpoint(out)
    raw = open(latest, "rb").read()
    open(latest, "wb").write(raw[: len(raw) // 3])
    assert_one_line_error(run_script("--output", out, "--resume"),
                          latest, "corrupt or truncated",
                          "delete it to resume from")
    os.remove(latest)

    state, meta, arrays = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    state["generator/00_Dense/kernel"] = np.zeros((10, 512), np.float32)
    ckpt.save_checkpoint(out, 9999, state, meta, arrays, keep=0)
    assert_one_line_error(run_script("--output", out, "--resume", "--epochs",
                                     "3"),
                          "holds generator/00_Dense/kernel with shape "
                          "(10, 512), but this code builds (100, 512)",
                          "different architecture")

    state["generator/00_Dense/kernel"] = np.zeros((100, 512), np.float32)
    meta["keras_version"] = "3.14.0"
    ckpt.save_checkpoint(out, 9999, state, meta, arrays, keep=0)
    result = run_script("--output", out, "--resume")
    assert_one_line_error(result, "written with Keras 3.14.0",
                          'pip install "keras==3.14.*"')
    assert "[INFO] loading" not in result.stdout


def test_resume_on_other_data_is_refused(baseline, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(baseline[0], out)
    tiny = str(tmp_path / "tiny")
    write_fashion_dir(tiny, n_train=1500, n_test=420)
    assert_one_line_error(run_script("--output", out, "--resume", "--epochs",
                                     "3", "--data-dir", tiny),
                          "trained on other data (1920 images",
                          "than these 1920 images")


@pytest.mark.parametrize("args,fragment", [
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--batch-size", "-5"], "--batch-size must be a positive integer"),
    (["--limit", "100", "--batch-size", "128"], "larger than --limit 100"),
    (["--data-dir", "/no/such/folder"], "is not a folder"),
    (["--loss", "hinge"], "--loss hinge needs --step tape"),
])
def test_bad_flags_fail_before_loading_data(tmp_path, args, fragment):
    result = run_script("--output", str(tmp_path), *args, timeout=60)
    assert_one_line_error(result, fragment)
    assert "[INFO] loading" not in result.stdout


def test_bad_output_folders(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("precious")
    result = run_script("--output", str(a_file), process=True)
    assert_one_line_error(result, "is a file, not a folder")
    # refused before TensorFlow starts: its import prints lines of its own
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert a_file.read_text() == "precious"
    assert_one_line_error(run_script("--output", "/proc/dcgan-out"),
                          "cannot be written")


def test_batch_larger_than_the_data(tmp_path):
    tiny = str(tmp_path / "tiny")
    write_fashion_dir(tiny, n_train=6, n_test=4)
    result = run_script("--output", str(tmp_path / "out"), "--data-dir", tiny)
    assert_one_line_error(result, "--batch-size 128 is larger than the 10 "
                                  "training images")


def test_missing_data_files_are_named(tmp_path):
    tiny = str(tmp_path / "tiny")
    write_fashion_dir(tiny)
    os.remove(os.path.join(tiny, "train-images-idx3-ubyte.gz"))
    result = run_script("--output", str(tmp_path / "out"), "--data-dir", tiny)
    assert_one_line_error(result, "lacks train-images-idx3-ubyte.gz")


def tree(folder):
    """Every file below `folder` with its bytes (but the lock, which says
    which process last ran there)."""
    return {os.path.relpath(os.path.join(root, name), folder):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(folder) for name in names
            if name != ".dcgan-run.lock"}


@pytest.mark.slow      # end to end, and slow: README's second command
def test_a_used_output_is_refused_then_overwritten(baseline, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(baseline[0], out)
    with open(os.path.join(out, "metrics.csv"), "w") as f:
        f.write("epoch,fd\n1,80\n")
    with open(os.path.join(out, "notes.txt"), "w") as f:
        f.write("mine")
    before = tree(out)
    result = run_script("--output", out, "--limit", "1280", "--epochs", "1")
    assert_one_line_error(result, f"--output {out} already holds another "
                          "run's files (2 checkpoints, 6 montages, "
                          "generator.keras, losses.png, metrics.csv, "
                          "training.gif)", "--resume", "--overwrite")
    assert "[INFO] loading" not in result.stdout
    assert tree(out) == before, "a refused run must change nothing"

    # --overwrite deletes only once every check has passed: a run that
    # fails on its data leaves the old run as it was
    tiny = str(tmp_path / "tiny")
    write_fashion_dir(tiny, n_train=6, n_test=4)
    assert_one_line_error(run_script("--output", out, "--overwrite",
                                     "--data-dir", tiny),
                          "--batch-size 128 is larger than the 10 training")
    assert tree(out) == before

    result = run_script("--output", out, "--limit", "1280", "--epochs", "1",
                        "--seed", "1", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == [
        "ckpt-00000010.npz"]
    assert set(os.listdir(out)) == {
        "checkpoints", "notes.txt", "epoch_0001_step_00000.png",
        "epoch_0001_output.png", "generator.keras", "losses.png",
        "training.gif", ".dcgan-run.lock"}
    assert open(os.path.join(out, "notes.txt")).read() == "mine"
    from PIL import Image
    with Image.open(os.path.join(out, "training.gif")) as gif:
        assert gif.n_frames == 1, "the GIF holds this run's epochs only"


def test_resuming_a_finished_run_does_nothing(baseline, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(baseline[0], out)
    before = tree(out)
    mtime = os.stat(os.path.join(out, "generator.keras")).st_mtime_ns
    result = run_script("--output", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert info_lines(result.stdout) == [
        f"[INFO] {out} has already trained all 2 epochs; nothing to do (to "
        "train longer: --resume --epochs N, with N above 2)"]
    assert tree(out) == before
    assert os.stat(os.path.join(out, "generator.keras")).st_mtime_ns == mtime
    # killed after the last checkpoint but before generator.keras: resume
    # writes it from that checkpoint, and trains nothing
    os.remove(os.path.join(out, "generator.keras"))
    result = run_script("--output", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert "[INFO] starting epoch" not in result.stdout
    assert "from the final checkpoint" in result.stdout
    assert_same_run(out, baseline[0])


@pytest.mark.slow
def test_second_signal_in_end_of_epoch_work_stops_at_once(tmp_path,
                                                          real_data):
    out = str(tmp_path)
    proc = start(out, "--limit", "1280", "--epochs", "3", "--seed", "1",
                 "--metrics-every", "1")
    read_until(proc, "[INFO] epoch 1 took")     # checkpoint 1 is written
    proc.send_signal(signal.SIGINT)             # plots and metrics follow
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    good = os.path.join(out, "checkpoints", "ckpt-00000010.npz")
    assert (f"[INFO] stopped at once by a second signal; last good "
            f"checkpoint: {good}; resume with:") in stdout
    assert "[INFO] metrics at epoch 1" not in stdout, "did not stop at once"
    assert not os.path.exists(os.path.join(out, "metrics.csv"))
    assert ckpt.list_checkpoints(out) == [good]
    ckpt.load_checkpoint(good)
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]


def test_main_can_be_called_from_another_program(tmp_path, monkeypatch):
    """In-process, as from a notebook: stdout without reconfigure(), and
    Ctrl-C handlers as they were once main() returns."""
    import io
    import runpy
    script = runpy.run_path(SCRIPT)
    data = str(tmp_path / "data")
    write_fashion_dir(data, n_train=64, n_test=0)
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    out = str(tmp_path / "out")
    status = script["main"](["--output", out, "--data-dir", data, "--epochs",
                             "1", "--batch-size", "32"])
    assert status == 0
    assert "[INFO] training complete" in stdout.getvalue()
    assert (signal.getsignal(signal.SIGINT),
            signal.getsignal(signal.SIGTERM)) == before
    # a bad flag is a status, not a SystemExit that ends the notebook
    assert script["main"](["--output", out, "--epochs", "abc"]) == 2

    # Ctrl-C outside the training loop (building models, say) points at
    # the checkpoint there is
    def interrupted(*args):
        raise KeyboardInterrupt

    script["run"].__globals__["train"] = interrupted
    assert script["main"](["--output", out, "--resume"]) == 130
    last = ckpt.latest_checkpoint(out)
    assert (f"[INFO] interrupted; the newest checkpoint is {last}; resume "
            "with:") in stdout.getvalue()


@pytest.mark.slow      # end to end, and slow: README's second command
def test_tips_off_or_averaging_only_leave_the_tutorials_run_unchanged(
        baseline, tmp_path):
    """The tips at their off values, and --ema (which only watches G),
    train exactly the tutorial's run."""
    out = str(tmp_path)
    result = run_script("--output", out, *SMALL, "--noise", "uniform",
                        "--disc-dropout", "0", "--label-smoothing", "0",
                        "--label-noise", "0", "--disc-lr", "2e-4",
                        "--gan-lr", "0.0002", "--ema", "0.99")
    assert result.returncode == 0, result.stderr
    assert "[INFO] GAN tips on: --ema 0.99" in result.stdout
    images = pngs(out)
    averaged = {name for name in images if name.startswith("ema_")}
    assert averaged == {"ema_" + name for name in MONTAGES}
    assert {name: image for name, image in images.items()
            if name not in averaged} == pngs(baseline[0])
    for a, b in zip(generator_weights(out), generator_weights(baseline[0])):
        np.testing.assert_array_equal(a, b)
    checkpoint = ckpt.latest_checkpoint(baseline[0])
    assert_one_line_error(run_python("evaluate.py", checkpoint, "--ema"),
                          "is from a run without --ema")


def test_a_stop_or_a_nan_brings_the_plots_up_to_date_without_failing():
    # the script's wiring of the hooks: a signal, a NaN and a spent
    # --minutes each bring the plots up to date before the run ends; a
    # signal and a NaN without a new reason to fail (hooks.Plots)
    import dcgan_fashion_mnist as script
    from pyimagesearch.run import hooks
    from pyimagesearch.run.cli import RunOptions
    from pyimagesearch.runfiles.config import RunConfig
    from pyimagesearch.run.state import RunState

    class Trainer:
        generator_ema = augment = None

    chain = script.training_hooks(
        RunOptions(output="out", minutes=5), RunConfig(epochs=4),
        Trainer(), RunState(), 10, None, stop=None)
    by_type = {type(hook): hook for hook in chain.hooks}
    plots = by_type[hooks.Plots]
    assert plots.last_epoch == 4
    assert by_type[hooks.FiniteLosses].before_stop == \
        plots.refresh_before_stop
    assert by_type[hooks.StopOnSignal].before_stop == \
        plots.refresh_before_stop
    assert by_type[hooks.TimeBudget].finish_epoch == plots.refresh_if_stale
