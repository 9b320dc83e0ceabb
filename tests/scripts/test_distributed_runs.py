"""--distribute end to end on a slice of the real Fashion-MNIST: mirrored
on 2 logical CPU devices (with metrics, TensorBoard and --pause-after,
resumed on one device), two MultiWorkerMirroredStrategy workers on this
machine's loopback (a Ctrl-C to one stops both after the same step, the
chief alone writes, both resume), and the bad inputs that must fail
before any data loads."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import (ROOT, SCRIPT, assert_one_line_error, run_script,
                      write_fashion_dir)
from pyimagesearch.runfiles import checkpoint as ckpt


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_resumes_from_and_on_one(
        tmp_path, real_data):
    """One device for epoch 1, 2 replicas for epoch 2 (with metrics,
    TensorBoard and --pause-after), one device again for epoch 3."""
    out = str(tmp_path / "mirrored")
    flags = ["--output", out, "--limit", "256", "--batch-size", "32",
             "--epochs", "3", "--seed", "1"]
    first = run_script(*flags, "--pause-after", "1")
    assert first.returncode == 0, first.stderr
    second = run_script(*flags, "--resume", "--pause-after", "1",
                        "--metrics-every", "1", "--tensorboard",
                        "--distribute", "mirrored", "--cpu-replicas", "2",
                        process=True)   # logical devices: a new TensorFlow
    assert second.returncode == 0, second.stderr
    assert "[INFO] --distribute mirrored: 2 replicas (" in second.stdout
    assert "CPU:1" in second.stdout
    assert "the checkpoint was trained on 1 replica(s), this run trains " \
           "on 2: the same run goes on" in second.stdout
    assert "[INFO] metrics at epoch 2: SWD=" in second.stdout
    assert "--resume --metrics-every 1 --tensorboard --distribute mirrored " \
           "--cpu-replicas 2" in second.stdout      # the hint says how
    assert {"epoch_0002_output.png", "epoch_0002_step_00000.png",
            "metrics.csv", "losses.png", "training.gif",
            "tensorboard"} <= set(os.listdir(out))
    assert os.listdir(os.path.join(out, "tensorboard"))
    # the same run goes on, on one device
    third = run_script("--output", out, "--resume", "--metrics-every", "1")
    assert third.returncode == 0, third.stderr
    assert "--distribute" not in third.stdout
    assert "(epoch 3, batch 0)" in third.stdout
    assert "the checkpoint was trained on 2 replica(s), this run trains " \
           "on 1" in third.stdout
    assert "[INFO] metrics at epoch 3: SWD=" in third.stdout
    assert os.path.isfile(os.path.join(out, "generator.keras"))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(out, tmp_path, *flags, only=None, own_flags=((), ())):
    """Two workers of one multi-worker run on 127.0.0.1 (or `only` the one
    of that index), their output going to files; `own_flags`: each
    worker's besides `flags`."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = []
    for index in range(2) if only is None else [only]:
        tf_config = {"cluster": {"worker": addresses},
                     "task": {"type": "worker", "index": index}}
        log = open(tmp_path / f"worker{index}-{time.time()}.log", "w+")
        process = subprocess.Popen(
            [sys.executable, SCRIPT, "--output", out, "--limit", "2048",
             "--batch-size", "32", "--distribute", "multi-worker", *flags,
             *own_flags[index]],
            stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env=dict(os.environ, TF_CONFIG=json.dumps(tf_config)))
        workers.append((process, log))
    return workers


def finish(workers, timeout=300):
    """Each worker's exit status and output; both are killed if either
    takes longer than `timeout` (a collective waiting on a lost peer)."""
    deadline = time.time() + timeout
    results = []
    try:
        for process, log in workers:
            process.wait(timeout=max(1, deadline - time.time()))
            log.seek(0)
            results.append((process.returncode, log.read()))
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def wait_for(log, text, process, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        log.seek(0)
        if text in log.read():
            return
        assert process.poll() is None, "the worker ended early"
        time.sleep(0.2)
    pytest.fail(f"no {text!r} within {timeout} s")


@pytest.mark.slow
def test_two_workers_on_loopback_stop_together_and_resume(tmp_path,
                                                          real_data):
    out = str(tmp_path / "two_workers")
    workers = start_workers(out, tmp_path, "--epochs", "2")
    (chief, _), (other, other_log) = workers
    try:
        wait_for(other_log, "starting epoch 1 of 2", other)
        time.sleep(2)
        other.send_signal(signal.SIGINT)    # Ctrl-C on the other worker
    finally:
        (chief_code, chief_out), (other_code, other_out) = finish(workers)
    assert "[INFO] worker 1 of a multi-worker run: waiting for all 2 " \
           "workers in TF_CONFIG to start (Ctrl-C gives up)..." in other_out
    assert "[INFO] --distribute multi-worker: 2 replicas on 2 workers" in \
        chief_out
    assert other_code == 130, other_out[-3000:]
    assert chief_code == 143, chief_out[-3000:]     # stopped by the other
    steps = [re.search(r"interrupted after step (\d+_\d+)", text)
             for text in (chief_out, other_out)]
    assert steps[0] and steps[1], (chief_out[-2000:], other_out[-2000:])
    assert steps[0].group(1) == steps[1].group(1)   # the same step
    assert "checkpoint saved to" in chief_out
    assert "the chief saves the checkpoint" in other_out
    assert "Traceback" not in chief_out + other_out
    checkpoints = os.listdir(os.path.join(out, "checkpoints"))
    assert len(checkpoints) == 1                    # written once
    # a fresh --distribute run records the step its replicas train with
    meta = ckpt.load_meta(os.path.join(out, "checkpoints", checkpoints[0]))
    assert meta["settings"]["step"] == "tape"
    # both resume from the chief's checkpoint and finish the run
    # (with the metrics at the end: the chief measures alone, after the
    # other has gone)
    workers = start_workers(out, tmp_path, "--epochs", "1", "--resume",
                            "--metrics-every", "1")
    (chief_code, chief_out), (other_code, other_out) = finish(workers)
    assert (chief_code, other_code) == (0, 0), (chief_out[-3000:],
                                                other_out[-3000:])
    for text in (chief_out, other_out):
        assert f"resumed from {os.path.join(out, 'checkpoints')}" in text
    assert "[INFO] metrics at epoch 1: SWD=" in chief_out
    assert "metrics at" not in other_out
    assert "generator saved to" in chief_out
    assert "the chief saves the generator" in other_out
    assert os.path.isfile(os.path.join(out, "generator.keras"))


@pytest.mark.slow
def test_a_lost_worker_stops_the_other_with_one_line(tmp_path, real_data):
    out = str(tmp_path / "lost")
    workers = start_workers(out, tmp_path, "--epochs", "2")
    (chief, chief_log), (other, other_log) = workers
    try:
        wait_for(chief_log, "Step 1_0:", chief)
        other.kill()                        # kill -9 the other worker
    finally:
        (chief_code, chief_out), _ = finish(workers, timeout=120)
    assert "Traceback" not in chief_out
    errors = [line for line in chief_out.splitlines()
              if line.startswith("[ERROR]")]
    assert chief_code == 4 and len(errors) == 1, chief_out[-3000:]
    assert "a worker of this multi-worker run stopped or cannot be " \
           "reached" in errors[0]
    assert "start every worker again" in errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_worker_waiting_for_the_others(tmp_path, real_data,
                                                        signum):
    """Ctrl-C, or the SIGTERM of `timeout`, `docker stop` or Kubernetes,
    while a worker waits for the others: one line, at once."""
    workers = start_workers(str(tmp_path / "alone"), tmp_path, "--epochs",
                            "1", only=1)
    (process, log), = workers
    wait_for(log, "(Ctrl-C gives up)", process)
    time.sleep(2)
    process.send_signal(signum)
    (code, out), = finish(workers, timeout=10)
    assert code == 128 + signum, out[-3000:]
    assert_one_line_error(subprocess.CompletedProcess([], code, "", out),
                          f"{signal.Signals(signum).name} while waiting for "
                          "the other workers of this multi-worker run: "
                          "stopped, nothing was trained", code=code)


@pytest.mark.slow
def test_a_worker_alone_gives_up_after_its_timeout(tmp_path, real_data):
    workers = start_workers(str(tmp_path / "alone"), tmp_path, "--epochs",
                            "1", "--worker-timeout", "10", only=1)
    (code, out), = finish(workers, timeout=120)
    assert_one_line_error(subprocess.CompletedProcess([], code, "", out),
                          "did not answer within 10 s (--worker-timeout)",
                          "start every worker again", code=4)


@pytest.mark.slow
def test_a_chief_with_a_used_output_tells_the_other_worker(tmp_path,
                                                           real_data):
    """The chief's own check fails before TensorFlow starts (its --output
    holds another run): it says so to worker 1, which stops at once with
    one line instead of waiting."""
    out = tmp_path / "used"
    out.mkdir()
    (out / "generator.keras").write_bytes(b"another run's")
    workers = start_workers(str(out), tmp_path, "--epochs", "1")
    (chief_code, chief_out), (other_code, other_out) = finish(workers,
                                                              timeout=120)
    chief_error = assert_one_line_error(
        subprocess.CompletedProcess([], chief_code, "", chief_out),
        "holds another run")
    assert_one_line_error(
        subprocess.CompletedProcess([], other_code, "", other_out),
        "the chief could not start (" + chief_error[len("[ERROR] "):][:40],
        code=4)
    assert (out / "generator.keras").read_bytes() == b"another run's"


@pytest.mark.slow
def test_workers_given_different_settings_all_stop(tmp_path, real_data):
    workers = start_workers(str(tmp_path / "differ"), tmp_path,
                            own_flags=(["--epochs", "2"], ["--epochs", "3"]))
    results = finish(workers, timeout=240)
    for code, text in results:
        errors = [line for line in text.splitlines()
                  if line.startswith("[ERROR]")]
        assert code == 2 and len(errors) == 1, text[-3000:]
        assert "the workers have different settings: --epochs is 3 on " \
               "worker 1 and 2 on the chief" in errors[0]
        assert "loading" not in text and "Traceback" not in text


@pytest.mark.slow
def test_workers_given_different_data_all_stop(tmp_path, real_data):
    other_data = str(tmp_path / "other")
    write_fashion_dir(other_data, n_train=2100)
    workers = start_workers(str(tmp_path / "data"), tmp_path, "--epochs",
                            "1", own_flags=([], ["--data-dir", other_data]))
    for code, text in finish(workers, timeout=240):
        assert code == 2, text[-3000:]
        assert "the workers of this multi-worker run have different " \
               "training data" in text
        assert "Traceback" not in text


@pytest.mark.slow
def test_a_worker_that_stops_before_training_stops_the_others(tmp_path,
                                                              real_data):
    """Worker 1 finds too few images once TensorFlow has started: its own
    [ERROR], and one line on the chief, not a wait or a traceback."""
    few = str(tmp_path / "few")
    write_fashion_dir(few)                              # 10 images
    workers = start_workers(str(tmp_path / "stops"), tmp_path, "--epochs",
                            "1", own_flags=([], ["--data-dir", few]))
    (chief_code, chief_out), (other_code, other_out) = finish(workers,
                                                              timeout=240)
    assert other_code == 2 and "is larger than the 10 training images" in \
        other_out, other_out[-3000:]
    errors = [line for line in chief_out.splitlines()
              if line.startswith("[ERROR]")]
    assert chief_code == 4 and len(errors) == 1, chief_out[-3000:]
    assert "a worker of this multi-worker run stopped or cannot be " \
           "reached before training" in errors[0]
    assert "Traceback" not in chief_out + other_out


TF_CONFIG_OK = json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                           "task": {"type": "worker", "index": 0}})


@pytest.mark.parametrize("flags, env, says", [
    (["--distribute", "ring"], {}, "argument --distribute: invalid choice"),
    (["--distribute", "mirrored", "--cpu-replicas", "1"], {},
     "--cpu-replicas must be from 2 (one device is the default run) to 64"),
    (["--cpu-replicas", "2"], {}, "add --distribute mirrored"),
    (["--distribute", "mirrored", "--cpu-replicas", "2", "--batch-size",
      "65"], {}, "--batch-size 65 does not split evenly across 2 replicas"),
    (["--distribute", "multi-worker"], {"TF_CONFIG": None},
     "TF_CONFIG environment variable, which is not set"),
    (["--distribute", "multi-worker"], {"TF_CONFIG": "{'cluster'"},
     "TF_CONFIG is not valid JSON"),
    (["--distribute", "multi-worker"],
     {"TF_CONFIG": TF_CONFIG_OK.replace('"index": 0', '"index": 3')},
     'TF_CONFIG needs this process\'s "task"'),
    (["--worker-timeout", "30"], {}, "--worker-timeout is how long a worker "
     "of a --distribute multi-worker run waits for the others; leave it out"),
    (["--distribute", "multi-worker", "--worker-timeout", "5"],
     {"TF_CONFIG": TF_CONFIG_OK},
     "--worker-timeout must be from 10 to 86400 seconds, got 5"),
    (["--distribute", "mirrored", "--cpu-replicas", "2", "--step", "keras"],
     {}, "--distribute trains every replica with the tape step: leave out "
         "--step keras"),
])
def test_bad_distribution_flags_fail_before_data_loads(tmp_path, flags, env,
                                                       says):
    out = str(tmp_path / "out")
    result = run_script("--output", out, *flags, env=env, timeout=120)
    assert_one_line_error(result, says)
    assert "loading" not in result.stdout
    assert not os.path.exists(os.path.join(out, "checkpoints"))
