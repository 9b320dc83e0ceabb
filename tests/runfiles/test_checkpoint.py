"""Checkpoints: round trip, pruning, atomic writes, loud corruption."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.errors import UserError


def fake_state(value=1.0):
    return {"generator/00_Dense/kernel": np.full((3, 2), value, np.float32),
            "disc_optimizer/discriminator/00_Dense/kernel/momentum":
                np.arange(4.0)}


def save(output, step, value=1.0, keep=3):
    return ckpt.save_checkpoint(output, step, fake_state(value),
                                {"epoch": step, "batch": 0},
                                {"benchmark_noise": np.ones((2, 100))},
                                keep=keep)


def test_round_trip(tmp_path):
    out = str(tmp_path)
    path = save(out, 5, value=2.5)
    assert path == os.path.join(out, "checkpoints", "ckpt-00000005.npz")
    state, meta, arrays = ckpt.load_checkpoint(path)
    assert meta["epoch"] == 5 and meta["global_step"] == 5
    assert meta["format"] == ckpt.FORMAT and meta["version"] == 2
    assert sorted(state) == sorted(fake_state())
    np.testing.assert_array_equal(state["generator/00_Dense/kernel"],
                                  np.full((3, 2), 2.5))
    np.testing.assert_array_equal(
        state["disc_optimizer/discriminator/00_Dense/kernel/momentum"],
        np.arange(4.0))
    np.testing.assert_array_equal(arrays["benchmark_noise"], np.ones((2, 100)))


def test_keeps_newest_and_orders_by_step(tmp_path):
    out = str(tmp_path)
    for step in (9, 10, 100, 1000):
        save(out, step, keep=3)
    names = [os.path.basename(p) for p in ckpt.list_checkpoints(out)]
    assert names == ["ckpt-00000010.npz", "ckpt-00000100.npz",
                     "ckpt-00001000.npz"]
    assert ckpt.latest_checkpoint(out).endswith("ckpt-00001000.npz")
    for step in (1001, 1002):
        save(out, step, keep=0)
    assert len(ckpt.list_checkpoints(out)) == 5


def test_pruning_never_deletes_the_checkpoint_just_written(tmp_path):
    # another run's later checkpoints in the folder (what --overwrite and
    # the used-folder check now prevent) must not make the new one vanish
    out = str(tmp_path)
    for step in (26208, 26754, 27300):
        save(out, step)
    path = save(out, 546, keep=3)
    assert os.path.isfile(path)
    assert len(ckpt.list_checkpoints(out)) == 3
    save(out, 1092, keep=1)
    assert os.listdir(os.path.dirname(path)) == ["ckpt-00001092.npz"]


def test_rng_state_round_trip():
    import keras
    keras.utils.set_random_seed(1)
    random.seed(2)
    arrays, meta = ckpt.get_rng_state()

    def draw():
        # keras.random without a seed draws from Keras' global generator,
        # as user code (dropout-like ops, random labels) would
        return (np.random.uniform(size=5), np.random.normal(),
                random.random(), keras.random.uniform((4,)).numpy(),
                keras.random.normal((3,)).numpy())
    expected = draw()
    keras.utils.set_random_seed(99)
    draw()
    ckpt.set_rng_state(arrays, meta)
    for a, b in zip(draw(), expected):
        np.testing.assert_array_equal(a, b)


def test_fit_state_names_the_first_difference():
    fresh = {"generator/00_Dense/kernel": np.zeros((3, 2)),
             "gan_optimizer/generator/00_Dense/kernel/momentum":
                 np.zeros((3, 2))}
    shapes = {name: value.shape for name, value in fresh.items()}
    meta = {"version": 2}
    assert ckpt.fit_state("c.npz", meta, dict(fresh), shapes) == fresh
    renamed = {"generator/00_Dense/kernel": np.zeros((3, 2)),
               "gan_optimizer/generator/00_Dense/kernel/velocity":
                   np.zeros((3, 2))}
    with pytest.raises(UserError, match="c.npz has no gan_optimizer/"
                       "generator/00_Dense/kernel/momentum: it comes from"):
        ckpt.fit_state("c.npz", meta, renamed, shapes)
    reshaped = dict(fresh, **{"generator/00_Dense/kernel": np.zeros((4, 2))})
    with pytest.raises(UserError, match=r"holds generator/00_Dense/kernel "
                       r"with shape \(4, 2\), but this code builds \(3, 2\)"):
        ckpt.fit_state("c.npz", meta, reshaped, shapes)
    extra = dict(fresh, **{"discriminator/05_Dropout/seed": np.zeros(2)})
    with pytest.raises(UserError, match="holds discriminator/05_Dropout/seed,"
                       " which this code does not build"):
        ckpt.fit_state("c.npz", meta, extra, shapes)


@pytest.mark.parametrize("saved,ok", [("3.15.0", True), ("3.15.9", True),
                                      ("3.14.2", False), ("4.0.0", False)])
def test_other_keras_minor_versions_are_refused(saved, ok):
    meta = {"keras_version": saved}
    if ok:
        ckpt.check_keras_version("c.npz", meta, "3.15.1")
        return
    with pytest.raises(UserError, match=f"c.npz was written with Keras "
                       f"{saved} and this is Keras 3.15.1; resume it with"):
        ckpt.check_keras_version("c.npz", meta, "3.15.1")


def test_failed_write_leaves_previous_checkpoint(tmp_path):
    out = str(tmp_path)
    good = save(out, 1)

    def dies_mid_write(f):
        f.write(b"PK half a zip")
        raise RuntimeError("power cut")

    target = os.path.join(out, "checkpoints", "ckpt-00000002.npz")
    with pytest.raises(RuntimeError):
        ckpt.atomic_write(target, dies_mid_write)
    assert not os.path.exists(target)
    assert os.listdir(os.path.dirname(good)) == [os.path.basename(good)]
    assert ckpt.load_checkpoint(ckpt.latest_checkpoint(out))[1]["epoch"] == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_checkpoint_is_named_with_a_way_out(tmp_path, damage):
    out = str(tmp_path)
    older = save(out, 1)
    path = save(out, 2)
    raw = open(path, "rb").read()
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        middle = len(raw) // 2
        raw = raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]
    else:
        raw = b"not a checkpoint"
    open(path, "wb").write(raw)
    with pytest.raises(UserError) as info:
        ckpt.load_checkpoint(path)
    message = str(info.value)
    assert path in message and "corrupt or truncated" in message
    assert f"delete it to resume from {older}" in message


def test_unwritable_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="could not write checkpoint"):
        save("/proc/no-such-output", 1)


KILLER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from pyimagesearch.runfiles import checkpoint as ckpt
state = {{f"generator/{{i:02d}}/kernel": np.random.rand(400, 400)
          for i in range(4)}}
step = 0
print("ready", flush=True)
while True:
    step += 1
    ckpt.save_checkpoint({out!r}, step, state, {{"epoch": step, "batch": 0}},
                         {{}}, keep=2)
"""


def test_kill_9_never_leaves_an_unloadable_checkpoint(tmp_path):
    out = str(tmp_path)
    for attempt in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLER.format(root=ROOT, out=out)],
            stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.37 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        latest = ckpt.latest_checkpoint(out)
        assert latest is not None
        ckpt.load_checkpoint(latest)     # raises if half-written


def test_a_checkpoint_without_its_keras_version_is_refused():
    with pytest.raises(UserError, match="c.npz does not say which Keras "
                                        "wrote it; train afresh"):
        ckpt.check_keras_version("c.npz", {}, "3.15.1")


def write_meta(path, meta):
    """A checkpoint file whose meta is `meta` (any JSON), arrays as ever."""
    import json
    payload = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
               "benchmark_noise": np.ones((2, 100))}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **payload)


@pytest.mark.parametrize("meta,problem", [
    ([1, 2], "its meta is a list, not a dict"),
    ("text", "its meta is a str, not a dict"),
    ({"format": ckpt.FORMAT, "version": 2, "epoch": "3"},
     "its epoch is '3', not of type int"),
    ({"format": ckpt.FORMAT, "version": 2, "rng": []},
     "its rng is [], not of type dict"),
    ({"format": ckpt.FORMAT, "version": 2, "rng": {"numpy": 5}},
     "its numpy is 5, not of type list"),
    ({"format": ckpt.FORMAT, "version": 2, "settings": [], "epoch": 1},
     "its settings is [], not of type dict"),
    ({"format": ckpt.FORMAT, "version": 2, "batch": -4},
     "its position is negative"),
])
def test_meta_of_the_wrong_shape_is_a_corrupt_checkpoint(tmp_path, meta,
                                                         problem):
    path = str(tmp_path / "checkpoints" / "ckpt-00000001.npz")
    write_meta(path, meta)
    for load in (ckpt.load_checkpoint, ckpt.load_meta):
        with pytest.raises(UserError, match="is corrupt or truncated"
                           ) as info:
            load(path)
        assert problem in str(info.value)


def test_resume_refuses_checkpoints_of_two_runs(tmp_path):
    from pyimagesearch.run.state import RunState
    out = str(tmp_path)
    ours, theirs = RunState().run_id, RunState().run_id
    assert ours != theirs
    meta = {"epoch": 1, "batch": 0, "settings": {}, "keras_version": "3.15.1",
            "rng": ckpt.get_rng_state()[1]}
    arrays = dict(ckpt.get_rng_state()[0], benchmark_noise=np.ones((2, 100)),
                  history=np.zeros((0, 4)))
    ckpt.save_checkpoint(out, 30, {}, dict(meta, run_id=ours), arrays)
    assert RunState.resume(out)[0].run_id == ours
    # another run's checkpoint, dropped in with a higher step
    ckpt.save_checkpoint(out, 60, {}, dict(meta, run_id=ours), arrays,
                         keep=0)
    ckpt.save_checkpoint(out, 90, {}, dict(meta, run_id=theirs), arrays,
                         keep=0)
    with pytest.raises(UserError, match=r"holds checkpoints of 2 runs: the "
                       r"newest's run wrote ckpt-00000090.npz; another wrote "
                       r"ckpt-00000030.npz and ckpt-00000060.npz. Move the "
                       r"other runs' checkpoints away, then resume"):
        RunState.resume(out)
    # a third run's, in between
    ckpt.save_checkpoint(out, 45, {}, dict(meta, run_id=RunState().run_id),
                         arrays, keep=0)
    with pytest.raises(UserError, match=r"of 3 runs: the newest's run wrote "
                       r"ckpt-00000090.npz; another wrote ckpt-00000030.npz "
                       r"and ckpt-00000060.npz; another wrote "
                       r"ckpt-00000045.npz\."):
        RunState.resume(out)
    os.remove(os.path.join(ckpt.checkpoint_dir(out), "ckpt-00000045.npz"))
    # checkpoints from before runs had ids belong to any run
    ckpt.save_checkpoint(out, 120, {}, meta, arrays, keep=1)
    assert RunState.resume(out)[0].epoch == 1


@pytest.mark.parametrize("damage", [
    lambda meta, arrays: meta["rng"].update(numpy=[1, 2]),
    lambda meta, arrays: meta["rng"].update(
        numpy=["MT19937", "x", 0, 0.0]),
    lambda meta, arrays: meta["rng"].update(python=[3]),
    lambda meta, arrays: arrays.update(benchmark_noise=np.ones((256, 7))),
    lambda meta, arrays: arrays.update(history=np.zeros(5)),
    lambda meta, arrays: arrays.update({"rng/numpy_keys": np.zeros(3)}),
    lambda meta, arrays: arrays.pop("rng/python_internal"),
])
def test_damaged_random_state_or_arrays_are_refused_on_resume(tmp_path,
                                                              damage):
    from pyimagesearch.run.state import RunState
    rng_arrays, rng_meta = ckpt.get_rng_state()
    meta = {"epoch": 1, "batch": 0, "settings": {}, "rng": rng_meta,
            "keras_version": "3.15.1"}
    arrays = dict(rng_arrays, benchmark_noise=np.ones((2, 100)),
                  history=np.zeros((0, 4)))
    ckpt.save_checkpoint(str(tmp_path), 30, {}, meta, arrays)
    RunState.resume(str(tmp_path))                  # undamaged: fine
    damage(meta, arrays)
    ckpt.save_checkpoint(str(tmp_path), 60, {}, meta, arrays)
    with pytest.raises(UserError, match="ckpt-00000060.npz is damaged"):
        RunState.resume(str(tmp_path))


def test_odd_folder_names_and_fifos_among_checkpoints(tmp_path):
    """Glob characters in --output are a name, not a pattern; a FIFO named
    like a checkpoint is never listed (reading it would block)."""
    out = str(tmp_path / "o[1]")
    for step in (10, 20, 30):
        save(out, step, keep=2)
    names = [os.path.basename(p) for p in ckpt.list_checkpoints(out)]
    assert names == ["ckpt-00000020.npz", "ckpt-00000030.npz"]
    os.mkfifo(os.path.join(out, "checkpoints", "ckpt-00000099.npz"))
    assert ckpt.latest_checkpoint(out).endswith("ckpt-00000030.npz")
