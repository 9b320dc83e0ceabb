"""The training script on a hostile folder and hostile names, end to end:
the folder holds a FIFO, a 100 GB sparse file, a small PNG of 100
megapixels, a corrupt file whose name holds a newline and a fake [ERROR],
and the run's own output; the folder's and the output's names are not
UTF-8.  The run trains, skips what it cannot use with one warning line,
and resumes as the same run."""
import os

import cv2
import numpy as np
import pytest

from conftest import assert_one_line_error, run_script


def put(folder, name, image):
    ok, encoded = cv2.imencode(".png", image)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(encoded.tobytes())


@pytest.fixture
def hostile(tmp_path):
    folder = os.path.join(os.fsencode(str(tmp_path)), b"imgs\xff\xfe")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for index in range(16):
        put(folder, b"p%02d.png" % index,
            rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    os.mkfifo(os.path.join(folder, b"fifo.png"))
    with open(os.path.join(folder, b"huge.png"), "wb") as f:
        f.truncate(100 * 2 ** 30)
    put(folder, b"bomb.png", np.zeros((10000, 10000, 4), np.uint8))
    with open(os.path.join(folder, b"evil\n[ERROR] fake.png"), "wb") as f:
        f.write(b"\x89PNG broken")
    return os.fsdecode(folder), os.fsdecode(os.path.join(folder,
                                                         b"out\xfe"))


@pytest.mark.slow      # end to end, and slow: README's second command
def test_a_hostile_folder_trains_and_resumes(hostile):
    folder, out = hostile
    args = ["--dataset", folder, "--output", out, "--image-size", "8",
            "--batch-size", "8", "--seed", "1", "--recipe", "tutorial"]
    # a process of its own: names that are not UTF-8 on its real streams
    first = run_script(*args, "--epochs", "1", timeout=600, process=True)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    warnings = [line for line in first.stdout.splitlines()
                if "skipped" in line and line.startswith("[WARNING]")]
    assert len(warnings) == 1
    for name in ("fifo.png (not a regular file)",
                 "huge.png (102400 MB, over the 512 MB limit)",
                 "bomb.png (10000x10000 pixels, over the 64-megapixel limit)",
                 "evil\\n[ERROR] fake.png"):
        assert name in warnings[0]
    assert not [line for line in first.stdout.splitlines()
                if line.startswith("[ERROR]")]
    assert "[INFO] 16 images from" in first.stdout
    assert {"epoch_0001_output.png", "losses.png", "training.gif",
            "generator.keras"} <= set(os.listdir(out))
    # the montages now in the folder are not training data: the same run
    second = run_script("--output", out, "--resume", "--epochs", "2",
                        timeout=600)
    assert second.returncode == 0, second.stderr
    assert "[INFO] 16 images from" in second.stdout
    assert "[INFO] starting epoch 2 of 2" in second.stdout


def test_a_resume_with_a_meta_of_the_wrong_shape_is_one_line(tmp_path):
    """Valid JSON of the wrong shape in a checkpoint is a corrupt
    checkpoint, refused in one line, not an AttributeError."""
    import json
    out = tmp_path / "out"
    path = out / "checkpoints" / "ckpt-00000010.npz"
    os.makedirs(path.parent)
    with open(path, "wb") as f:
        np.savez(f, meta=np.frombuffer(json.dumps([1, 2]).encode(),
                                       np.uint8))
    assert_one_line_error(run_script("--output", out, "--resume"),
                          "is corrupt or truncated", "not a dict")


def test_a_checkpoints_file_is_found_before_training(tmp_path):
    out = tmp_path / "out"
    os.makedirs(out)
    (out / "checkpoints").write_text("")
    result = run_script("--output", out, "--limit", "128", "--epochs", "1")
    assert_one_line_error(result, "checkpoints, which is not a folder")
    assert os.listdir(out) == ["checkpoints"]       # nothing was written


def test_a_name_cannot_forge_an_error_line(tmp_path):
    out = tmp_path / "x\n[ERROR] forged"
    out.write_text("a file, not a folder")
    result = run_script("--output", out)
    line = assert_one_line_error(result, "is a file, not a folder")
    assert "x\\n[ERROR] forged" in line


def test_evaluate_refuses_a_csv_that_is_no_file_before_measuring(tmp_path):
    from conftest import run_python
    model = tmp_path / "g.keras"
    model.write_bytes(b"x")
    result = run_python("evaluate.py", model, "--csv", tmp_path)
    assert_one_line_error(result, "is not a file to append to")


def test_a_resume_from_a_checkpoint_built_to_inflate_is_one_line(tmp_path):
    """Its meta claims 100 MB of JSON (100 KB on disk): refused from the
    zip's directory before it is inflated; the folder is left as it was."""
    import zipfile
    out = tmp_path / "out"
    path = out / "checkpoints" / "ckpt-00000010.npz"
    os.makedirs(path.parent)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        with archive.open("meta.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {
                "descr": "|u1", "fortran_order": False,
                "shape": (100 * 2 ** 20,)})
            for _ in range(100):
                f.write(b" " * 2 ** 20)
    before = path.read_bytes()
    assert_one_line_error(run_script("--output", out, "--resume"),
                          str(path), "its member 'meta' claims 100.0 MB "
                          "inflated, over the 1.0 MB it may hold")
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_compare_refuses_a_huge_metrics_file_unread(tmp_path):
    """A sparse 100 GB metrics.csv with no newline is refused by its size,
    through the open file, in one line."""
    from conftest import run_python
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "metrics.csv", "wb") as f:
        f.truncate(100 * 2 ** 30)
    result = run_python("compare.py", run, "-o", tmp_path / "c.png")
    assert_one_line_error(result, "metrics.csv is 102,400.0 MB, over the "
                          "64.0 MB a metrics file may be")


def test_generate_and_evaluate_refuse_a_fifo_without_waiting(tmp_path):
    """A FIFO named as the model: refused through a non-blocking open,
    never waited on (an open() for reading would block forever)."""
    from conftest import run_python
    fifo = tmp_path / "generator.keras"
    os.mkfifo(fifo)
    for script in ("generate.py", "evaluate.py"):
        assert_one_line_error(run_python(script, fifo, "-o", tmp_path)
                              if script == "generate.py" else
                              run_python(script, fifo),
                              "generator.keras is not a regular file: pass "
                              "the model itself")
