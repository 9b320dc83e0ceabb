"""Before TensorFlow starts, a multi-worker run's workers meet over plain
sockets on the chief's TF_CONFIG port: each worker tells the chief that
it is ready, with its settings, or that it cannot start, and why; the
chief answers every worker "go" or why not.  The wait is bounded
(--worker-timeout) and, being Python's own socket calls, Ctrl-C and
SIGTERM end it at once; TensorFlow's own wait for its cluster holds the
interpreter and could be interrupted by neither.

The port accepts any connection, as TensorFlow's own server does: a
message that is not a worker's report is dropped."""
import json
import signal
import socket
import threading
import time

from ..errors import UserError, WorkerLost

MAX_MESSAGE = 1 << 20       # a report's settings: a few KB
FIRST_WORDS = 2             # seconds a connection has to say who it is
# set once this process has met the others (or tried): a later error is
# not told to them again
MET = set()
POLL = 0.5                  # how often a wait looks at its deadline
RESUME = ("start every worker again with the same command (add --resume "
          "if a checkpoint was written)")


class Interrupted(UserError):
    """Ctrl-C or SIGTERM while the workers wait for each other."""

    def __init__(self, signum):
        name = signal.Signals(signum).name
        super().__init__(f"{name} while waiting for the other workers of "
                         "this multi-worker run: stopped, nothing was "
                         f"trained; {RESUME}")
        self.exit_code = 128 + signum


def task_name(task):
    return "the chief" if task["type"] == "chief" else \
        f"worker {task['index']}"


def chief_task(cluster):
    """The task that writes the run's outputs: "chief", else worker 0."""
    return ({"type": "chief", "index": 0} if "chief" in cluster
            else {"type": "worker", "index": 0})


def split_address(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def first_difference(ours, theirs):
    """(setting, our value, their value) of the first setting two workers
    differ in, in our order, or None."""
    for key in list(ours) + [key for key in theirs if key not in ours]:
        if ours.get(key) != theirs.get(key):
            return key, ours.get(key), theirs.get(key)
    return None


# what the loaded data tells (a resumed run's checkpoint holds them)
DATA_KEYS = {"num_images": "the number of training images",
             "data_sha1": "the training images' fingerprint",
             "class_names": "the class names"}


def flag_name(key):
    """How a message names a setting: its flag, else what it is."""
    if " " in key or key in DATA_KEYS:
        return DATA_KEYS.get(key, key)
    return "--" + key.replace("_", "-")


def meet(tf_config, settings, timeout, error=None, log=print):
    """Wait (at most `timeout` seconds) until every worker of TF_CONFIG
    has reported ready, with the same settings as the chief.  `error`:
    this worker's own reason it cannot start, told to the others (the
    caller then raises it).  A UserError says what stopped the run."""
    MET.add(True)
    cluster, task = tf_config["cluster"], tf_config["task"]
    chief = chief_task(cluster)
    address = cluster[chief["type"]][0]
    deadline = time.monotonic() + timeout
    is_chief = (task["type"], task["index"]) == (chief["type"],
                                                 chief["index"])
    with signals_end_wait():
        if is_chief:
            others = [task_name({"type": kind, "index": index})
                      for kind, addresses in cluster.items()
                      for index in range(len(addresses))
                      if {"type": kind, "index": index} != chief]
            return chief_meets(address, others, settings, error, deadline,
                               timeout)
        return worker_meets(address, task_name(task), settings, error,
                            deadline, timeout)


class signals_end_wait:
    """Ctrl-C and SIGTERM raise Interrupted wherever the wait is; the
    previous handlers come back after it."""

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.handle)
        return self

    @staticmethod
    def handle(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None
                          else handler)
        return False


def chief_meets(address, others, settings, error, deadline, timeout):
    host, port = split_address(address)
    try:
        listener = socket.socket(socket.AF_INET6 if ":" in host
                                 else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", port))
    except OSError as e:
        raise UserError(f"the chief cannot listen on port {port} of its "
                        f"TF_CONFIG address {address} ({e.strerror}): is "
                        "another run using it?") from None
    listener.listen(len(others) + 4)
    reports = {}
    try:
        while len(reports) < len(others):
            if time.monotonic() > deadline:
                missing = [name for name in others if name not in reports]
                problem = (f"{', '.join(missing)} did not report to the chief "
                           f"within {timeout:g} s (--worker-timeout)")
                answer_all(reports, problem)
                raise WorkerLost(f"{problem}: a worker not started, or "
                                 f"stopped before it could say (see its own "
                                 f"output); {RESUME}")
            listener.settimeout(POLL)
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            report = read_message(connection, min(
                deadline, time.monotonic() + FIRST_WORDS))
            name = report.get("task") if report else None
            if name not in others or name in reports:
                connection.close()      # not a worker of this run
                continue
            reports[name] = (connection, report)
            if report.get("error"):
                break       # the run cannot start: no need to wait on
        problem = judge(reports, settings, error)
        answer_all(reports, problem)
    finally:
        listener.close()
    if problem and error is None:
        raise problem_error(problem)


def judge(reports, settings, error):
    """Why the run cannot start, said to every worker, or None."""
    if error is not None:
        return f"the chief could not start ({error})"
    for name, (_, report) in reports.items():
        if report.get("error"):
            return f"{name} could not start ({report['error']})"
    for name, (_, report) in reports.items():
        differs = first_difference(settings, report.get("settings") or {})
        if differs:
            key, ours, theirs = differs
            return (f"the workers have different settings: {flag_name(key)} "
                    f"is {json.dumps(theirs)} on {name} and "
                    f"{json.dumps(ours)} on the chief")
    return None


def problem_error(problem):
    if problem.startswith("the workers have different settings"):
        return UserError(f"{problem}; start every worker with the same flags "
                         "and, to resume, the same checkpoint")
    return WorkerLost(f"{problem}; fix it, then {RESUME}")


def answer_all(reports, problem):
    """Tell every worker that reported "go" or why not, then wait a moment
    for each to close first (so the port is free for TensorFlow)."""
    answer = json.dumps({"go": problem is None, "why": problem}).encode()
    for connection, _ in reports.values():
        try:
            connection.settimeout(5)
            connection.sendall(answer + b"\n")
            connection.recv(1)
        except OSError:
            pass
        finally:
            connection.close()


def worker_meets(address, name, settings, error, deadline, timeout):
    host, port = split_address(address)
    connection = None
    while connection is None:
        try:
            connection = socket.create_connection((host, port), timeout=POLL)
        except OSError:
            if time.monotonic() > deadline:
                raise WorkerLost(f"the chief at {address} did not answer "
                                 f"within {timeout:g} s (--worker-timeout): "
                                 "not started, or stopped before it could "
                                 f"say (see its own output); {RESUME}") \
                    from None
            time.sleep(POLL)
    with connection:
        report = {"task": name, "settings": settings, "error": error}
        connection.settimeout(POLL)
        connection.sendall(json.dumps(report).encode() + b"\n")
        answer = read_message(connection, deadline)
    if error is not None:
        return
    if answer is None:
        raise WorkerLost(f"the chief at {address} gave no answer within "
                         f"{timeout:g} s (--worker-timeout), or stopped; see "
                         f"its own output; {RESUME}")
    if not answer.get("go"):
        raise problem_error(str(answer.get("why")))


def read_message(connection, deadline):
    """One JSON line from a connection, or None (closed, past the
    deadline, too long, not JSON)."""
    data = b""
    connection.settimeout(POLL)
    while b"\n" not in data and len(data) <= MAX_MESSAGE:
        if time.monotonic() > deadline:
            return None
        try:
            chunk = connection.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    try:
        message = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
