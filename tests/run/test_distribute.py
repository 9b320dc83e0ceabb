"""--distribute's checks that need no TensorFlow: the flags, TF_CONFIG,
which worker is the chief, the batch's split, and the stop the workers
agree on."""
import json

import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.run.distribute import (AgreedStop, check_distribute,
                                          check_split, is_chief,
                                          read_tf_config)
from pyimagesearch.run.interrupts import StopRequest

WORKERS = {"worker": ["127.0.0.1:2001", "127.0.0.1:2002"]}


def tf_config(cluster=WORKERS, task_type="worker", index=0):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {
        "type": task_type, "index": index}})}


def test_a_good_tf_config_is_read():
    assert read_tf_config(tf_config(index=1))["task"]["index"] == 1


@pytest.mark.parametrize("environ, says", [
    ({}, "which is not set"),
    ({"TF_CONFIG": ""}, "which is not set"),
    ({"TF_CONFIG": "{cluster: 1"}, "not valid JSON"),
    ({"TF_CONFIG": "[1, 2]"}, 'needs a "cluster"'),
    (tf_config(cluster={}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": "127.0.0.1:2001"}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": ["127.0.0.1"]}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": ["127.0.0.1:port"]}), 'needs a "cluster"'),
    (tf_config(index=2), 'this process\'s "task"'),
    (tf_config(index=-1), 'this process\'s "task"'),
    (tf_config(index="0"), 'this process\'s "task"'),
    (tf_config(task_type="chief"), 'this process\'s "task"'),
    (tf_config(cluster=dict(WORKERS, ps=["127.0.0.1:2003"]), task_type="ps"),
     "'ps' tasks"),
    (tf_config(task_type=["worker"]), 'this process\'s "task"'),
    (tf_config(task_type={"worker": 0}), 'this process\'s "task"'),
    (tf_config(index=True), 'this process\'s "task"'),
    (tf_config(cluster={"worker": ["127.0.0.1:99999"]}), "ports 1-65535"),
    (tf_config(cluster={"worker": ["127.0.0.1:0"]}), "ports 1-65535"),
    (tf_config(cluster={"worker": [2001]}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": ["h:\u00b2"]}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": ["h:\uff11\uff12"]}), 'needs a "cluster"'),
    (tf_config(cluster={"worker": ["127.0.0.1:2001", "127.0.0.1:2001"]}),
     "names an address twice"),
    (tf_config(cluster=dict(WORKERS, chief=["h:1", "h:2"])),
     'more than one "chief"'),
])
def test_a_missing_or_malformed_tf_config_is_refused(environ, says):
    with pytest.raises(UserError, match="TF_CONFIG") as error:
        read_tf_config(environ)
    assert says in str(error.value)
    with pytest.raises(UserError):     # as the flags are checked
        check_distribute("multi-worker", None, environ)


def test_the_chief_is_the_chief_task_else_worker_0():
    assert is_chief(None, {})
    assert is_chief("mirrored", {})
    assert is_chief("multi-worker", tf_config(index=0))
    assert not is_chief("multi-worker", tf_config(index=1))
    with_chief = dict(WORKERS, chief=["127.0.0.1:2000"])
    assert is_chief("multi-worker", tf_config(with_chief, "chief", 0))
    assert not is_chief("multi-worker", tf_config(with_chief, "worker", 0))


@pytest.mark.parametrize("distribute, replicas, says", [
    ("mirrored", 1, "--cpu-replicas must be from 2"),
    ("mirrored", 0, "--cpu-replicas must be from 2"),
    ("mirrored", 65, "to 64, got 65"),
    (None, 2, "add --distribute mirrored"),
    ("multi-worker", 2, "one replica a worker"),
])
def test_cpu_replicas_is_for_mirrored_and_two_or_more(distribute, replicas,
                                                      says):
    with pytest.raises(UserError, match=says):
        check_distribute(distribute, replicas, tf_config())


def test_good_flags_pass():
    check_distribute(None, None, {})
    check_distribute("mirrored", None, {})
    check_distribute("mirrored", 4, {})
    check_distribute("multi-worker", None, tf_config())


def test_the_batch_must_split_evenly():
    check_split(128, 4)
    with pytest.raises(UserError, match="--batch-size 130 does not split "
                                        "evenly across 4 replicas"):
        check_split(130, 4)
    # a resumed run's batch is its checkpoint's: other replica counts
    with pytest.raises(UserError, match=r"this run's batch of 30 \(fixed by "
                       r"its checkpoint\) does not split evenly across 4 "
                       r"replicas; resume on a replica count that divides "
                       r"it \(2, 3, 5, 6, 10, 15\)"):
        check_split(30, 4, resumed=True)


class Trainer:
    stop_agreed = False


def test_a_stop_is_voted_and_only_the_agreed_stop_stops():
    """This process's request goes out with the next step's vote; it stops
    only once the step says that some process asked (so all stop after
    the same step)."""
    request, trainer = StopRequest(), Trainer()
    stop = AgreedStop(request, trainer)
    assert trainer.stop_vote() is False and not stop.requested
    request.signum = 2                  # Ctrl-C here, after a step's vote
    assert trainer.stop_vote() is True
    assert not stop.requested           # the step just done had no vote
    trainer.stop_agreed = True          # the next step carried it
    assert stop.requested and stop.exit_code == 130


def test_a_worker_stopped_by_another_exits_as_on_sigterm():
    trainer = Trainer()
    stop = AgreedStop(StopRequest(), trainer)
    trainer.stop_agreed = True
    assert stop.requested and stop.exit_code == 143
