"""Ctrl-C and SIGTERM during training: the first asks the loop to stop at
the next step boundary (after writing a checkpoint); a second stops at
once.  The handlers live only as long as the `with` block."""
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopNow(KeyboardInterrupt):
    """Raised by a second signal wherever the program is: a checkpoint
    being written is abandoned (atomically: the previous one stays)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class StopRequest:
    """with StopRequest() as stop: ... if stop.requested: ...

    Handlers are installed on entry and the previous ones put back on
    exit, so a notebook or another program calling the trainer keeps its
    own Ctrl-C afterwards.  Outside the main thread, where Python cannot
    install handlers, it does nothing."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None
                          else handler)
        self._previous.clear()
        return False

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise StopNow(signum)
        self.signum = signum

    @property
    def requested(self):
        return self.signum is not None

    @property
    def exit_code(self):
        return 128 + self.signum
