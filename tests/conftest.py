import contextlib
import gzip
import importlib.util
import io
import os
import struct
import subprocess
import sys
import traceback

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "dcgan_fashion_mnist.py")

sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pyimagesearch.data import readers  # noqa: E402


def write_idx(path, array, magic=None):
    """Write `array` (uint8) as a gzipped IDX file, as Keras' files are."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(
        ">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_fashion_dir(folder, n_train=6, n_test=4, seed=0):
    """A tiny but well-formed Fashion-MNIST folder; returns the arrays."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, (n_train,)),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, (n_test,)),
    }
    for name, array in arrays.items():
        write_idx(os.path.join(folder, name), array)
    return arrays


@pytest.fixture
def fashion_dir(tmp_path):
    folder = str(tmp_path / "fashion")
    return folder, write_fashion_dir(folder)


@pytest.fixture(scope="session")
def real_data():
    """The real Fashion-MNIST, found where the training script finds it:
    $DCGAN_DATA_DIR, Keras' cache, Debian's folder.  Without it the suite
    stops at once with one line saying how to get it."""
    folder = readers.find_fashion_mnist()
    if folder is None:
        pytest.exit(
            "the tests need the real Fashion-MNIST, found nowhere in "
            + ", ".join(readers.search_dirs()) + ": run `python -c 'from "
            "pyimagesearch.data.readers import load_fashion_mnist as l; "
            "l()'` once (Keras downloads it into its cache), or `apt-get "
            "install dataset-fashion-mnist`, or set DCGAN_DATA_DIR to a "
            "folder holding the four IDX .gz files", returncode=4)
    return folder


# scripts whose main takes argv: called in this process unless a test
# asks for a process of its own (signals, exit of the process, chatter)
IN_PROCESS = ("dcgan_fashion_mnist.py", "generate.py", "evaluate.py",
              "compare.py", "train_classifier.py", "bench.py")
_modules = {}


def script_module(script):
    """The script as a module of this process (imported once)."""
    if script not in _modules:
        name = "script_" + os.path.basename(script)[:-3]
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, script))
        _modules[script] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_modules[script])
    return _modules[script]


def call_main(script, *args, env=None):
    """A script's main(argv), called in this process as run_python runs it
    in a new one: its exit status, stdout and stderr as a CompletedProcess.
    Keras' session is cleared first (layer names and the graph as in a new
    process).  What only a process shows (TensorFlow's own lines on the
    stderr file descriptor, the stream encoding of odd file names, a
    TensorFlow started afresh) needs process=True; --seed makes a run's
    random streams its own, and op determinism stays on once a seeded run
    has turned it on."""
    import keras
    keras.backend.clear_session()
    saved_env, cwd, argv = dict(os.environ), os.getcwd(), sys.argv
    sys.argv = [os.path.join(ROOT, script), *map(str, args)]
    for key, value in (env or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = script_module(script).main([str(a) for a in args])
            except SystemExit as e:     # argparse's --help
                code = e.code if isinstance(e.code, int) else int(
                    e.code is not None)
            except Exception:           # as a process would end
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(cwd)
        sys.argv = argv
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([script, *map(str, args)], code,
                                       out.getvalue(), err.getvalue())


def run_python(script, *args, timeout=600, env=None, process=False):
    """Run one of the repo's scripts; returns CompletedProcess (text).  In
    this process where its main takes argv (call_main), unless `process`:
    then in a new Python, as a user runs it."""
    if script in IN_PROCESS and not process:
        return call_main(script, *args, env=env)
    full_env = {key: value
                for key, value in dict(os.environ, **(env or {})).items()
                if value is not None}   # None: leave the variable out
    return subprocess.run([sys.executable, os.path.join(ROOT, script),
                           *map(str, args)], capture_output=True, text=True,
                          errors="surrogateescape",   # any file name
                          timeout=timeout, env=full_env, cwd=ROOT)


def run_script(*args, timeout=300, env=None, process=False):
    """Run the real training script (in this process unless `process`)."""
    return run_python("dcgan_fashion_mnist.py", *args, timeout=timeout,
                      env=env, process=process)


def trained_once(tmp_path_factory, name, flags):
    """(output folder, CompletedProcess) of one training run, for a
    module's tests to share."""
    out = str(tmp_path_factory.mktemp(name) / "whole")
    result = run_script("--output", out, *flags)
    assert result.returncode == 0, result.stderr
    return out, result


def assert_same_final_checkpoint(folder, other):
    """The newest checkpoints of two runs hold the same arrays under the
    same names (a run stopped and resumed against one trained in one go);
    returns the first's {name: array}."""
    from pyimagesearch.runfiles import checkpoint as ckpt
    states = [ckpt.load_checkpoint(ckpt.latest_checkpoint(out))[0]
              for out in (folder, other)]
    assert states[0].keys() == states[1].keys()
    for name in states[0]:
        np.testing.assert_array_equal(states[0][name], states[1][name],
                                      err_msg=name)
    return states[0]


def pngs(folder):
    """{name: bytes} of the PNGs in a folder, to compare two runs'."""
    return {name: open(os.path.join(folder, name), "rb").read()
            for name in sorted(os.listdir(folder)) if name.endswith(".png")}


def info_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("[INFO]")]


def peak_rss_mb(code):
    """Peak memory of a fresh process running `code`, in MB: its own
    VmHWM, not getrusage's ru_maxrss, which Linux carries over from the
    process that forked it (pytest's own gigabytes, once TensorFlow has
    run, would hide any peak below them)."""
    probe = (f"import sys; sys.path.insert(0, {ROOT!r})\n{code}\n"
             "print([line.split()[1] for line in open('/proc/self/status')"
             " if line.startswith('VmHWM:')][0])")
    out = subprocess.run([sys.executable, "-c", probe], check=True,
                         capture_output=True, text=True, timeout=300)
    return int(out.stdout.split()[-1]) / 1024


def assert_one_line_error(result, *fragments, code=2):
    """A user error: non-zero exit, one [ERROR] line, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("[ERROR]")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def write_photo_folder(folder, count=40, seed=0):
    """Crops of the two photographs scikit-learn ships, in mixed formats
    (PNG, JPEG, BMP, TIFF; colour, grey, RGBA, 16-bit; any aspect ratio)
    in nested folders, beside a text file and one corrupt JPEG.  Returns
    how many image files there are and how many can be read."""
    import cv2
    from sklearn.datasets import load_sample_images
    photos = [image[..., ::-1] for image in load_sample_images().images]  # BGR
    rng = np.random.default_rng(seed)
    kinds = ["png", "jpg", "grey.png", "rgba.png", "16bit.png", "bmp", "tif"]
    for index in range(count):
        photo = photos[index % 2]
        height, width = rng.integers(40, 160, size=2)
        top = rng.integers(0, photo.shape[0] - height)
        left = rng.integers(0, photo.shape[1] - width)
        crop = np.ascontiguousarray(photo[top:top + height, left:left + width])
        kind = kinds[index % len(kinds)]
        if kind == "grey.png":
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        elif kind == "rgba.png":
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2BGRA)
        elif kind == "16bit.png":
            crop = crop.astype(np.uint16) * 257
        sub = ["", "nested", os.path.join("nested", "deeper")][index % 3]
        name = f"{['china', 'flower'][index % 2]}_{index}.{kind.split('.')[-1]}"
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        assert cv2.imwrite(os.path.join(folder, sub, name), crop)
    with open(os.path.join(folder, "nested", "notes.txt"), "w") as f:
        f.write("not an image")
    with open(os.path.join(folder, "nested", "deeper", "corrupt.jpg"),
              "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this JPEG stops here")
    return {"image_files": count + 1, "readable": count}
