"""Files and their names: writing so that a crash leaves the old file or
the new one, never half of one; any file name shown safely."""
import os
import tempfile


def cache_dir():
    """Where derived data is cached (real-data statistics, decoded image
    folders): $DCGAN_CACHE_DIR, else ~/.cache/dcgan-fashion-mnist."""
    return os.environ.get("DCGAN_CACHE_DIR", os.path.join(
        os.path.expanduser("~"), ".cache", "dcgan-fashion-mnist"))


def readable_name(path):
    """A path for a log line or a plot, whatever bytes its name holds:
    bytes that are not UTF-8 and control characters (a newline could
    forge a log line) are written as escapes."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1]
                   for char in text)


def remove_quietly(path):
    """Delete a file if it is there; a failure leaves it, says nothing."""
    try:
        os.remove(path)
    except OSError:
        pass


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Call write(file_object) on a temporary file beside `path`, then
    rename it over `path`: a crash leaves the old file or the new, never
    half of one."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would, not 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)
