"""--distribute: which tf.distribute strategy a run trains under, checked
before TensorFlow starts (the flags, TF_CONFIG), and made once it does.

mirrored: MirroredStrategy over this machine's GPUs, or with
--cpu-replicas N over N logical devices of its CPU (to try it out and to
test it: they share the CPU's cores, so they are not faster).
multi-worker: MultiWorkerMirroredStrategy over the machines TF_CONFIG
names; every worker runs the same command, and the chief (the "chief"
task, else worker 0) alone writes the run's outputs."""
import contextlib
import json
import os
import signal
import threading

from ..errors import UserError, WorkerLost
from ..files import readable_name
from ..gan.architectures import ARCHITECTURES
from . import rendezvous

STRATEGIES = ("mirrored", "multi-worker")
MAX_CPU_REPLICAS = 64
# seconds a worker waits for the others to start (--worker-timeout)
DEFAULT_WORKER_TIMEOUT = 300
MIN_WORKER_TIMEOUT, MAX_WORKER_TIMEOUT = 10, 86400
# seconds a worker that cannot start waits to tell the others so
TELL_TIMEOUT = 30
TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
                     '"host2:12345"]}, "task": {"type": "worker", '
                     '"index": 0}}\'')


def check_distribute(distribute, cpu_replicas, environ=os.environ):
    """The flags' own checks (the batch's split needs the replica count:
    check_split)."""
    if cpu_replicas is not None:
        if distribute != "mirrored":
            raise UserError("--cpu-replicas N splits this machine's CPU into "
                            "N devices for --distribute mirrored only; "
                            + ("leave it out (a multi-worker run has one "
                               "replica a worker on CPUs)"
                               if distribute == "multi-worker" else
                               "add --distribute mirrored or leave it out"))
        if not 2 <= cpu_replicas <= MAX_CPU_REPLICAS:
            raise UserError(f"--cpu-replicas must be from 2 (one device is "
                            f"the default run) to {MAX_CPU_REPLICAS}, got "
                            f"{cpu_replicas}")
    if distribute == "multi-worker":
        read_tf_config(environ)


def read_tf_config(environ=os.environ):
    """TF_CONFIG as a dict, or a UserError saying what is wrong with it:
    a cluster of named task lists of "host:port" addresses, and this
    process's task, one of them."""
    text = environ.get("TF_CONFIG")
    if not text:
        raise UserError("--distribute multi-worker reads the workers from "
                        "the TF_CONFIG environment variable, which is not "
                        f"set; set it on every worker, e.g. "
                        f"{TF_CONFIG_EXAMPLE} (index 1 on the second)")
    try:
        tf_config = json.loads(text)
    except ValueError as e:
        raise UserError(f"TF_CONFIG is not valid JSON ({e}); e.g. "
                        f"{TF_CONFIG_EXAMPLE}") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) \
        else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not all(
            isinstance(addresses, list) and addresses and all(
                map(is_address, addresses))
            for addresses in cluster.values()):
        raise UserError('TF_CONFIG needs a "cluster": each task type with a '
                        'list of "host:port" addresses (ports 1-65535); e.g. '
                        f"{TF_CONFIG_EXAMPLE}")
    unknown = set(cluster) - {"chief", "worker"}
    if unknown:
        raise UserError(f"TF_CONFIG's cluster has {sorted(unknown)[0]!r} "
                        "tasks; multi-worker training takes only \"chief\" "
                        "and \"worker\"")
    if len(cluster.get("chief", [])) > 1:
        raise UserError('TF_CONFIG\'s cluster has more than one "chief" '
                        "address; a run has one chief")
    addresses = [address for listed in cluster.values()
                 for address in listed]
    if len(set(addresses)) < len(addresses):
        raise UserError("TF_CONFIG's cluster names an address twice; give "
                        "each worker its own host:port")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str) \
            or task["type"] not in cluster or type(task.get("index")) \
            is not int or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise UserError('TF_CONFIG needs this process\'s "task": a "type" '
                        'of its cluster and an "index" into that type\'s '
                        f"addresses; got {json.dumps(task)}")
    return tf_config


def is_address(address):
    """"host:port", the port from 1 to 65535."""
    if not isinstance(address, str):
        return False
    host, _, port = address.rpartition(":")
    return bool(host) and port.isascii() and port.isdigit() and \
        1 <= int(port) <= 65535


def is_chief(distribute, environ=os.environ):
    """Whether this process writes the run's outputs: always, but for a
    multi-worker run's workers other than the chief."""
    if distribute != "multi-worker":
        return True
    tf_config = read_tf_config(environ)
    task = tf_config["task"]
    if "chief" in tf_config["cluster"]:
        return task["type"] == "chief"
    return task["index"] == 0


def check_split(batch_size, replicas, resumed=False):
    if batch_size % replicas == 0:
        return
    if resumed:
        counts = [count for count in range(2, 65) if batch_size % count == 0]
        raise UserError(f"this run's batch of {batch_size} (fixed by its "
                        f"checkpoint) does not split evenly across {replicas} "
                        f"replicas; resume on a replica count that divides it "
                        f"({', '.join(map(str, counts[:6])) or 'none'}), or "
                        "on one device")
    raise UserError(f"--batch-size {batch_size} does not split evenly "
                    f"across {replicas} replicas; choose a multiple of "
                    f"{replicas}")


def make_strategy(distribute, cpu_replicas=None):
    """The strategy (TensorFlow starts here: before anything else of it
    runs, which a multi-worker strategy and logical devices require)."""
    import tensorflow as tf
    if distribute == "multi-worker":
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except tf.errors.OpError as e:
            from ..gan.distributed import cause
            raise WorkerLost("not every worker in TF_CONFIG started in "
                             f"time ({cause(e)}); start them all "
                             "again") from None
    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        devices = [f"/cpu:{index}" for index in range(cpu_replicas)]
        return tf.distribute.MirroredStrategy(devices)
    if not tf.config.list_physical_devices("GPU"):
        raise UserError("--distribute mirrored trains on this machine's "
                        "GPUs, and TensorFlow sees none; add --cpu-replicas "
                        "N to try it on N logical devices of the CPU")
    return tf.distribute.MirroredStrategy()


def waiting_line(environ=os.environ):
    """What a worker does until every worker of TF_CONFIG has started."""
    tf_config = read_tf_config(environ)
    count = sum(map(len, tf_config["cluster"].values()))
    task = tf_config["task"]
    return (f"[INFO] {task['type']} {task['index']} of a multi-worker run: "
            f"waiting for all {count} workers in TF_CONFIG to start "
            "(Ctrl-C gives up)...")


def describe(strategy, distribute, arch="tutorial"):
    """The log line: how many replicas, on what, and what the
    architecture's BatchNorm does across them."""
    replicas = strategy.num_replicas_in_sync
    batchnorm = f"; --arch {arch}: {ARCHITECTURES[arch].under_distribute}"
    if distribute == "multi-worker":
        cluster = read_tf_config()["cluster"]
        workers = sum(len(addresses) for addresses in cluster.values())
        on = plural(workers, "worker")
        return (f"[INFO] --distribute multi-worker: "
                f"{plural(replicas, 'replica')} on {on}" + batchnorm)
    devices = ", ".join(strategy.extended.worker_devices)
    return (f"[INFO] --distribute mirrored: {plural(replicas, 'replica')} "
            f"({devices})" + batchnorm)


def plural(count, noun):
    return f"{count} {noun}" + "s" * (count != 1)


def chief_value(strategy, value):
    """`value` as the chief has it (a 64-bit integer), on every worker: a
    collective, so every worker calls it at the same point."""
    import tensorflow as tf

    def replica_value():
        first = tf.equal(
            tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
        return tf.where(first, tf.constant(value, tf.int64),
                        tf.constant(0, tf.int64))
    with peer_loss_as_error("before training"):
        values = tf.function(lambda: strategy.run(replica_value))()
        return int(strategy.reduce(tf.distribute.ReduceOp.SUM, values,
                                   axis=None))


def agree_with_chief(strategy, state):
    """A multi-worker run's workers train on one global batch each step:
    the same images in the same order (--shuffle draws its order from the
    run id unless --seed), and the same noise.  Returns the chief's
    random seed for the run's random streams, and takes the chief's run
    id."""
    import random
    seed = chief_value(strategy, random.randrange(2 ** 31))
    # the id's first 16 hex digits, all that the order reads, in halves
    # that fit an int64
    halves = [chief_value(strategy, int(state.run_id[start:start + 8], 16))
              for start in (0, 8)]
    state.run_id = "".join(f"{half:08x}" for half in halves) + \
        state.run_id[16:]
    return seed


@contextlib.contextmanager
def ctrl_c_ends_waits():
    """While a worker waits for the others inside TensorFlow (to start,
    to agree), TensorFlow holds the interpreter, so Python's Ctrl-C
    handler could not run: the operating system's default ends the
    process at once instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None
                      else previous)


@contextlib.contextmanager
def peer_loss_as_error(when):
    """Another worker that stops (its own error, a signal, a lost
    machine) fails this one's collectives: one line, not a traceback."""
    import tensorflow as tf
    from ..gan.distributed import cause, lost_peer
    try:
        yield
    except tf.errors.OpError as e:
        if not lost_peer(e):
            raise
        raise WorkerLost(f"a worker of this multi-worker run stopped or "
                         f"cannot be reached {when} ({cause(e)}); see its "
                         "own output") from None


def check_agreement(strategy, what, description):
    """The workers of a multi-worker run must train alike: `description`
    (text), compared with the chief's; if any worker's differs, every
    worker stops with the same line.  A collective: all call it."""
    import hashlib
    import tensorflow as tf
    digest = int(hashlib.sha1(description.encode()).hexdigest()[:15], 16)
    differs = int(digest != chief_value(strategy, digest))
    with peer_loss_as_error("before training"):
        values = tf.function(lambda: strategy.run(
            lambda: tf.constant(differs, tf.int64)))()
        disagree = int(strategy.reduce(tf.distribute.ReduceOp.SUM, values,
                                       axis=None))
    if disagree:
        raise UserError(
            f"the workers of this multi-worker run have different {what} ("
            + ("this worker's differ from the chief's" if differs else
               "another worker's differ from the chief's")
            + "); start every worker with the same flags, data and, to "
            "resume, checkpoint")


class AgreedStop:
    """A StopRequest as all processes of a distributed run agree on it:
    each step carries this process's request to the others
    (DistributedTrainer.stop_vote), and all stop after the same step, the
    first whose vote had one."""

    def __init__(self, stop, trainer):
        self.stop, self.trainer = stop, trainer
        trainer.stop_vote = lambda: stop.requested

    @property
    def requested(self):
        return self.trainer.stop_agreed

    @property
    def exit_code(self):
        # a worker stopped by another's signal exits as if it had had one
        return self.stop.exit_code if self.stop.requested else 128 + 15


# -- the training script's use of a strategy ------------------------------

def start(options, config, state, log):
    """--distribute: the strategy and, for a multi-worker run, the seed its
    workers share ((None, None): one device).  Before anything else of
    TensorFlow runs, and before the data loads: the replicas must split
    the batch, and a multi-worker run's workers must agree on the run."""
    if not options.distribute:
        return None, None
    if options.distribute == "mirrored":
        strategy = make_strategy("mirrored", options.cpu_replicas)
        check_split(config.batch_size, strategy.num_replicas_in_sync,
                    options.resume)
        log(describe(strategy, "mirrored", config.arch))
        return strategy, None
    log(waiting_line())
    rendezvous.meet(read_tf_config(), dict(
        config.to_dict(), pause_after=options.pause_after,
        **{"the checkpoint's position": [state.epoch, state.batch]}),
        options.worker_timeout or DEFAULT_WORKER_TIMEOUT)
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with ctrl_c_ends_waits():
            strategy = make_strategy("multi-worker")
            log(describe(strategy, "multi-worker", config.arch))
            shared_seed = agree_with_chief(strategy, state)
    finally:
        # TensorFlow's own SIGTERM handler (for preemption) would swallow
        # it outside the training loop, which installs its own
        signal.signal(signal.SIGTERM, previous_sigterm or signal.SIG_DFL)
    check_split(config.batch_size, strategy.num_replicas_in_sync,
                options.resume)
    return strategy, shared_seed


@contextlib.contextmanager
def others_told(args):
    """A multi-worker run's worker that cannot start (a used --output, a
    bad checkpoint: its own checks, before it would meet the others) tells
    them so when TF_CONFIG lets it, instead of leaving them waiting; then
    gives its own error."""
    rendezvous.MET.clear()
    try:
        yield
    except UserError as e:
        if (getattr(args, "distribute", None) == "multi-worker"
                and not rendezvous.MET and not isinstance(
                    e, rendezvous.Interrupted)):
            signalled = tell_others(str(e))
            if signalled:       # its error still, with the signal's status
                e.exit_code = signalled
        raise


def tell_others(error):
    """Meet the other workers with this worker's reason it cannot start,
    for at most TELL_TIMEOUT (the others wait up to their own
    --worker-timeout); the exit status of a Ctrl-C or SIGTERM that ended
    it, else None."""
    try:
        tf_config = read_tf_config()
    except UserError:
        return          # no cluster to tell
    if sum(map(len, tf_config["cluster"].values())) < 2:
        return          # no other worker
    print(f"[INFO] this worker cannot start "
          f"({readable_name(error.splitlines()[0])}); "
          f"telling the other workers, for up to {TELL_TIMEOUT} s (Ctrl-C "
          "stops now)...", flush=True)
    try:
        rendezvous.meet(tf_config, {}, TELL_TIMEOUT,
                        error=error.splitlines()[0])
    except rendezvous.Interrupted as stop:
        return stop.exit_code
    except UserError:
        pass            # its own error is what this worker says
    return None


def agree_on_data(options, strategy, config):
    """A multi-worker run's workers check that they loaded the same data
    (config holds what it is); nothing to do for the other runs."""
    if options.distribute == "multi-worker":
        with ctrl_c_ends_waits():
            check_agreement(strategy, "training data",
                            json.dumps(config.to_dict()))


def replica_change_line(trainer, state):
    """The log line for a resume on another replica count than the
    checkpoint's, or None."""
    replicas = getattr(trainer, "replicas", 1)
    if replicas == state.replicas:
        return None
    return (f"[INFO] the checkpoint was trained on {state.replicas} "
            f"replica(s), this run trains on {replicas}: the same run goes "
            "on, with the same weights, optimizer state and random state, "
            "but not bit for bit as it would have (other sums, and "
            "per-replica augmentation and dropout)")
