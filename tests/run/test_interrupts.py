"""Ctrl-C handling: first signal a request, second a stop at once; the
handlers live only inside the block."""
import os
import signal
import threading

import numpy as np
import pytest

from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.run.interrupts import StopNow, StopRequest


def test_first_signal_asks_second_stops_at_once():
    with StopRequest() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.exit_code == 143
        with pytest.raises(StopNow) as info:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):      # the handler runs between bytecodes
                pass
    assert info.value.signum == signal.SIGINT
    assert isinstance(info.value, KeyboardInterrupt)


def test_previous_handlers_come_back():
    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGINT, mine)
    try:
        with StopRequest():
            assert signal.getsignal(signal.SIGINT) is not mine
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with pytest.raises(ValueError):
            with StopRequest():
                raise ValueError("training failed")
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_it_installs_nothing():
    seen = []

    def worker():
        with StopRequest() as stop:
            seen.append(stop.requested)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGINT) is before


def test_second_signal_during_a_checkpoint_write_keeps_the_previous(tmp_path):
    out = str(tmp_path)
    state = {"generator/00_Dense/kernel": np.ones((50, 50))}
    good = ckpt.save_checkpoint(out, 1, state, {"epoch": 1, "batch": 0}, {})
    real_savez = np.savez

    def savez_interrupted(f, **payload):
        real_savez(f, **payload)
        os.kill(os.getpid(), signal.SIGINT)       # lands mid-write
        for _ in range(1000):
            pass

    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        np.savez = savez_interrupted
        try:
            with pytest.raises(StopNow):
                ckpt.save_checkpoint(out, 2, state, {"epoch": 2, "batch": 0},
                                     {})
        finally:
            np.savez = real_savez
    assert ckpt.list_checkpoints(out) == [good]
    assert os.listdir(os.path.dirname(good)) == [os.path.basename(good)]
    ckpt.load_checkpoint(good)
