"""The output folder: which files are a run's, refusing a used folder,
--overwrite deleting exactly a run's files, metrics trimmed on resume."""
import os

import pytest

from pyimagesearch.runfiles import outputs
from pyimagesearch.errors import UserError

RUN = ["epoch_0001_step_00000.png", "epoch_0001_output.png",
       "epoch_0050_step_00500.png", "generator.keras", "metrics.csv",
       "losses.png", "training.gif", "checkpoints/ckpt-00000546.npz"]
LEFTOVERS = ["checkpoints/.tmp-abc123", ".tmp-x1", "generator.keras.tmp.keras"]
USERS = ["notes.txt", "epoch_1_output.png", "epoch_best_output.png",
         "my_generator.keras", "losses.png.bak", "checkpoints/README",
         "old/epoch_0001_output.png"]


def make(folder, names):
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(name)


def relative(paths, folder):
    return sorted(os.path.relpath(p, folder) for p in paths)


def test_run_files_are_exactly_the_projects(tmp_path):
    make(tmp_path, RUN + LEFTOVERS + USERS)
    found = outputs.run_files(tmp_path)
    assert relative(found, tmp_path) == sorted(RUN)
    assert found[-1].endswith("ckpt-00000546.npz"), "checkpoints go last"
    assert relative(outputs.leftovers(tmp_path), tmp_path) == \
        sorted(LEFTOVERS)
    # the animation's frames are the run's end-of-epoch montages only
    assert relative(outputs.epoch_montages(tmp_path), tmp_path) == [
        "epoch_0001_output.png"]


def test_empty_or_foreign_folder_is_fresh(tmp_path):
    outputs.check_fresh(str(tmp_path))
    make(tmp_path, USERS + LEFTOVERS)
    outputs.check_fresh(str(tmp_path))


def test_links_named_like_run_files_count(tmp_path):
    """A run would write through them, so they make the folder used."""
    os.symlink(tmp_path / "nowhere.png", tmp_path / "epoch_0001_output.png")
    with pytest.raises(UserError, match=r"\(1 montage\)"):
        outputs.check_fresh(str(tmp_path))
    outputs.clear_run(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_used_folder_is_refused_and_left_alone(tmp_path):
    make(tmp_path, RUN + USERS)
    before = {p: open(p).read() for p in outputs.run_files(tmp_path)}
    with pytest.raises(UserError) as info:
        outputs.check_fresh(str(tmp_path))
    message = str(info.value)
    assert ("already holds another run's files (1 checkpoint, 3 montages, "
            "generator.keras, losses.png, metrics.csv, training.gif)"
            in message)
    assert "--resume to continue that run" in message
    assert "another --output" in message and "--overwrite" in message
    assert {p: open(p).read() for p in outputs.run_files(tmp_path)} == before


def test_without_a_checkpoint_resume_is_not_offered(tmp_path):
    make(tmp_path, ["epoch_0001_step_00000.png"])
    with pytest.raises(UserError) as info:
        outputs.check_fresh(str(tmp_path))
    assert "--resume" not in str(info.value)


def test_overwrite_deletes_the_run_and_nothing_else(tmp_path):
    make(tmp_path, RUN + LEFTOVERS + USERS)
    outputs.clear_run(str(tmp_path))
    assert outputs.run_files(tmp_path) == []
    assert outputs.leftovers(tmp_path) == []
    for name in USERS:
        assert open(os.path.join(tmp_path, name)).read() == name
    # an emptied checkpoints/ folder goes too
    make(tmp_path / "b", RUN)
    outputs.clear_run(str(tmp_path / "b"))
    assert os.listdir(tmp_path / "b") == []


def test_one_run_at_a_time_in_a_folder(tmp_path):
    held = outputs.lock(str(tmp_path))
    with pytest.raises(UserError, match=f"--output {tmp_path} is in use by "
                       f"another training run \\(pid {os.getpid()}\\)"):
        outputs.lock(str(tmp_path))
    held.close()                     # as when the process ends
    outputs.lock(str(tmp_path)).close()
    assert outputs.run_files(tmp_path) == []      # the lock is no run file
    outputs.check_fresh(str(tmp_path))


def test_trim_metrics_drops_rows_after_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_bytes(b"epoch,fd\r\nreal-data floor,0.05\r\n1,80\r\n2,55\r\n"
                     b"3,40\r\n")
    outputs.trim_metrics(str(tmp_path), 2)
    assert path.read_bytes() == b"epoch,fd\r\nreal-data floor,0.05\r\n" \
                                b"1,80\r\n2,55\r\n"
    outputs.trim_metrics(str(tmp_path), 5)       # nothing to drop
    assert path.read_bytes().count(b"\r\n") == 4


TIPS_RUN = ["ema_epoch_0001_output.png", "ema_epoch_0001_step_00000.png",
            "generator_ema.keras", "ema_metrics.csv",
            "tensorboard/events.out.tfevents.1795926865.vm.4033.0.v2"]


def test_averaged_generator_and_tensorboard_files_are_the_runs(tmp_path):
    make(tmp_path, TIPS_RUN + ["tensorboard/my_notes.txt", "ema_notes.png"])
    assert relative(outputs.run_files(tmp_path), tmp_path) == sorted(TIPS_RUN)
    with pytest.raises(UserError, match=r"\(2 montages, 1 TensorBoard event "
                       r"file, ema_metrics.csv, generator_ema.keras\)"):
        outputs.check_fresh(str(tmp_path))
    # the GIF is G's own montages only
    assert outputs.epoch_montages(tmp_path) == []
    outputs.clear_run(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["ema_notes.png", "tensorboard"]
    assert os.listdir(tmp_path / "tensorboard") == ["my_notes.txt"]
    make(tmp_path / "b", TIPS_RUN)
    outputs.clear_run(str(tmp_path / "b"))
    assert os.listdir(tmp_path / "b") == []       # an emptied tensorboard/


def test_trim_metrics_trims_the_averaged_generators_too(tmp_path):
    for name in ("metrics.csv", "ema_metrics.csv"):
        (tmp_path / name).write_bytes(
            b"epoch,fd\r\nreal-data floor,0.1\r\n1,30\r\n2,20\r\n")
    outputs.trim_metrics(str(tmp_path), 1)
    for name in ("metrics.csv", "ema_metrics.csv"):
        assert (tmp_path / name).read_bytes() == \
            b"epoch,fd\r\nreal-data floor,0.1\r\n1,30\r\n"
