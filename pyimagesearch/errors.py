"""The one exception type the scripts turn into a one-line message, and
the checks of a typed number that raise it."""
import functools
import sys

from .files import readable_name

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Something the user can fix: the message says what is wrong and how."""
    exit_code = EXIT_USER_ERROR


class WorkerLost(UserError):
    """Another process of a multi-worker run (--distribute) died or cannot
    be reached: the training step's collectives fail."""
    exit_code = 4


def one_line_errors(main):
    """Decorate a script's main: a UserError becomes one [ERROR] line on
    stderr and its exit status (2 unless it says otherwise), never a
    traceback."""
    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        for stream in (sys.stdout, sys.stderr):
            if hasattr(stream, "reconfigure"):   # not in every notebook
                # a file name that is not UTF-8 prints as its own bytes,
                # as `ls` shows it, and never raises
                stream.reconfigure(errors="surrogateescape")
        try:
            return main(*args, **kwargs)
        except UserError as e:
            # one line, whatever names it holds (a newline could forge one)
            print(f"[ERROR] {readable_name(str(e))}", file=sys.stderr)
            return e.exit_code
    return wrapper


def check_positive(name, value, allow_none=True, allow_zero=False):
    if value is None and allow_none:
        return
    if value is None or value < (0 if allow_zero else 1):
        least = "0 or more" if allow_zero else "a positive integer"
        raise UserError(f"{name} must be {least}, got {value}")


def check_range(name, value, low, high):
    """An integer flag within [low, high] (None: not given)."""
    if value is not None and not low <= value <= high:
        raise UserError(f"{name} must be from {low} to {high}, got {value}")
