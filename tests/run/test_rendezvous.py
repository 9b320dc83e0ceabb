"""The workers of a multi-worker run meet before TensorFlow starts: on
loopback, each worker a small process of its own (no TensorFlow), as the
training script's would be."""
import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from pyimagesearch.run import rendezvous

WORKER = """
import json, sys
sys.path.insert(0, {root!r})
from pyimagesearch.errors import UserError
from pyimagesearch.run import rendezvous
tf_config, settings, error, timeout = json.loads(sys.argv[1])
print("waiting", flush=True)
try:
    rendezvous.meet(tf_config, settings, timeout, error=error)
except UserError as e:
    print("[ERROR]", e, flush=True)
    sys.exit(e.exit_code)
print("go", flush=True)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port, index, settings=None, error=None, timeout=20, count=2):
    addresses = [f"127.0.0.1:{port}"] + [
        f"127.0.0.1:{free_port()}" for _ in range(count - 1)]
    tf_config = {"cluster": {"worker": addresses},
                 "task": {"type": "worker", "index": index}}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(root=ROOT), json.dumps(
            [tf_config, settings or {}, error, timeout])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout.readline() == "waiting\n"
    return process


def result(process, timeout=30):
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def test_workers_with_the_same_settings_go():
    port = free_port()
    chief, other = start(port, 0, {"epochs": 2}), start(port, 1, {"epochs": 2})
    assert result(chief) == (0, "go\n")
    assert result(other) == (0, "go\n")


def test_a_settings_difference_is_named_on_every_worker():
    port = free_port()
    chief = start(port, 0, {"epochs": 2, "batch_size": 32})
    other = start(port, 1, {"epochs": 2, "batch_size": 64})
    for process in (chief, other):
        code, out = result(process)
        assert code == 2, out
        assert ("the workers have different settings: --batch-size is 64 "
                "on worker 1 and 32 on the chief; start every worker with "
                "the same flags") in out


def test_a_worker_that_cannot_start_tells_the_chief():
    port = free_port()
    chief = start(port, 0, {"epochs": 2})
    other = start(port, 1, error="--output out holds another run")
    assert result(other)[0] == 0      # its own error is the caller's to say
    code, out = result(chief)
    assert code == 4, out
    assert ("[ERROR] worker 1 could not start (--output out holds another "
            "run); fix it, then start every worker again") in out


def test_a_chief_that_cannot_start_tells_the_workers():
    port = free_port()
    other = start(port, 1, {"epochs": 2})
    chief = start(port, 0, error="checkpoint x is corrupt")
    assert result(chief)[0] == 0
    code, out = result(other)
    assert code == 4 and "the chief could not start (checkpoint x is " \
        "corrupt)" in out, out


@pytest.mark.parametrize("index, says", [
    (0, "worker 1 did not report to the chief within 3 s "
        "(--worker-timeout)"),
    (1, "the chief at 127.0.0.1:{port} did not answer within 3 s "
        "(--worker-timeout)")])
def test_the_wait_is_bounded(index, says):
    port = free_port()
    began = time.monotonic()
    code, out = result(start(port, index, timeout=3))
    assert code == 4, out
    assert says.format(port=port) in out
    assert "start every worker again with the same command (add --resume " \
        "if a checkpoint was written)" in out
    assert 3 <= time.monotonic() - began < 8


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("index", [0, 1])
def test_ctrl_c_and_sigterm_end_the_wait_at_once(signum, index):
    process = start(free_port(), index, timeout=300)
    time.sleep(1)
    process.send_signal(signum)
    code, out = result(process, timeout=5)
    assert code == 128 + signum, out
    name = signal.Signals(signum).name
    assert out.splitlines() == [
        f"[ERROR] {name} while waiting for the other workers of this "
        "multi-worker run: stopped, nothing was trained; start every worker "
        "again with the same command (add --resume if a checkpoint was "
        "written)"]


def test_a_stranger_on_the_port_is_ignored():
    """The port accepts any connection: one that sends nothing, or not a
    worker's report, is dropped and the run starts."""
    port = free_port()
    chief = start(port, 0, {"epochs": 2})
    time.sleep(0.5)
    silent = socket.create_connection(("127.0.0.1", port))
    with socket.create_connection(("127.0.0.1", port)) as noise:
        noise.sendall(b'{"task": "worker 7"}\nGET / HTTP/1.0\r\n\r\n')
    other = start(port, 1, {"epochs": 2})
    assert result(other) == (0, "go\n")
    assert result(chief) == (0, "go\n")
    silent.close()


def test_first_difference_names_settings_in_order():
    assert rendezvous.first_difference({"a": 1, "b": 2}, {"a": 1, "b": 3}) \
        == ("b", 2, 3)
    assert rendezvous.first_difference({"a": 1}, {"a": 1, "c": 0}) == \
        ("c", None, 0)
    assert rendezvous.first_difference({"a": [1, 2]}, {"a": [1, 2]}) is None
    assert rendezvous.flag_name("image_size") == "--image-size"
    assert rendezvous.flag_name("the checkpoint's position") == \
        "the checkpoint's position"
    assert rendezvous.flag_name("data_sha1") == \
        "the training images' fingerprint"


def test_a_chief_given_a_task_with_other_keys_is_still_the_chief():
    """TF_CONFIG's task may carry keys besides type and index."""
    port = free_port()
    addresses = [f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"]
    tf_config = {"cluster": {"worker": addresses},
                 "task": {"type": "worker", "index": 0, "trial": "a"}}
    chief = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(root=ROOT), json.dumps(
            [tf_config, {}, None, 20])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert chief.stdout.readline() == "waiting\n"
    other = start(port, 1)
    assert result(other) == (0, "go\n")
    assert result(chief) == (0, "go\n")
