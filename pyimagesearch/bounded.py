"""Reading files that may claim one size and hold another (a compressed
member that inflates to gigabytes, a sparse file, a CSV of a billion rows):
each read is capped at what the file declares and at a documented maximum,
and done in chunks, so memory stays bounded whatever the file holds.

Every refusal is a UserError naming the file and what it claimed."""
import contextlib
import csv
import io
import os
import stat
import zipfile

import numpy as np

from .errors import UserError
from .files import readable_name

CHUNK = 1 << 20
# a text file read whole (a metrics CSV, a checkpoint's meta JSON)
MAX_CSV_BYTES = 64 << 20
MAX_CSV_ROWS = 100_000
MAX_CSV_FIELDS = 64             # a metrics CSV has about 20 columns
MAX_CSV_FIELD = 4096            # characters in one field
MAX_CSV_LINE = 64 * 1024        # characters in one line
MAX_META_BYTES = 1 << 20


def megabytes(count):
    """A size for a message: bytes below a megabyte, else megabytes."""
    return (f"{count:,} bytes" if count < 2 ** 20
            else f"{count / 2 ** 20:,.1f} MB")


def open_checked(path, max_bytes, what="file"):
    """`path` opened for reading, checked through the open file (fstat), so
    a file swapped after any earlier look is still the one checked: a
    regular file of at most max_bytes, else a UserError."""
    try:       # not blocking: a FIFO is refused, not waited on
        f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
    except OSError as e:
        raise UserError(f"{readable_name(path)}: cannot open the {what} "
                        f"({e.strerror})") from None
    try:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{readable_name(path)} is not a regular file: "
                            f"pass the {what} itself")
        if info.st_size > max_bytes:
            raise UserError(f"{readable_name(path)} is "
                            f"{megabytes(info.st_size)}, over the "
                            f"{megabytes(max_bytes)} a {what} may be")
        os.set_blocking(f.fileno(), True)
    except BaseException:
        f.close()
        raise
    return f


def check_regular(path, what="file"):
    """An early, friendly check of a file named on the command line (the
    read itself checks again, through its own open): a regular file."""
    open_checked(path, float("inf"), what).close()


def read_exactly(stream, count, path, claim):
    """Exactly `count` bytes (what the file declares) and nothing after
    them: a UserError naming `claim` if it holds fewer or more."""
    buffer = np.empty(count, np.uint8)     # never more memory than that
    view, done = memoryview(buffer), 0
    while done < count:
        got = stream.readinto(view[done:done + min(CHUNK, count - done)])
        if not got:
            break
        done += got
    if done < count:
        raise UserError(f"{readable_name(path)} holds {done:,} bytes of data "
                        f"but {claim} {count:,}: it is truncated or "
                        "corrupt; fetch it again")
    if stream.read(1):
        raise UserError(f"{readable_name(path)} holds more data than {claim} "
                        f"({count:,} bytes): it is corrupt or built to "
                        "inflate; fetch it again")
    return buffer


class Capped(io.RawIOBase):
    """A stream (an inflating one) that ends in a UserError once more than
    `cap` bytes have been read from it: whatever reads it, however it
    reads, gets no more than that."""

    def __init__(self, stream, cap, path, what):
        super().__init__()
        self.stream, self.cap, self.done = stream, cap, 0
        self.path, self.what = path, what

    def readable(self):
        return True

    def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        got = self.stream.readinto(view[:min(len(view), CHUNK)])
        self.done += got or 0
        if self.done > self.cap:
            raise UserError(f"{readable_name(self.path)} inflates past "
                            f"{megabytes(self.cap)}, the most a {self.what} "
                            "may hold: it is corrupt or built to inflate; "
                            "fetch it again")
        return got


def read_csv(path, what="metrics file", max_bytes=MAX_CSV_BYTES,
             max_rows=MAX_CSV_ROWS):
    """The rows (lists of strings, the header first) of a CSV of at most
    max_bytes, max_rows rows of MAX_CSV_FIELDS fields of MAX_CSV_FIELD
    characters, parsed as a stream through one checked open (a file that
    grows meanwhile is read up to max_bytes); a UserError past any of
    them, csv.Error for a malformed one."""
    rows = []
    limit = csv.field_size_limit(MAX_CSV_FIELD)
    try:
        with open_checked(path, max_bytes, what) as f:
            text = io.TextIOWrapper(
                io.BufferedReader(Capped(f, max_bytes, path, what)),
                encoding="utf-8", errors="replace", newline="")
            for row in csv.reader(bounded_lines(text, path, what)):
                if len(rows) > max_rows or len(row) > MAX_CSV_FIELDS:
                    raise UserError(
                        f"{readable_name(path)} has more than "
                        + (f"{max_rows:,} rows" if len(rows) > max_rows
                           else f"{MAX_CSV_FIELDS} columns in a row")
                        + f", the most a {what} may have: pass a run's "
                        "own metrics CSV")
                rows.append(row)
    finally:
        csv.field_size_limit(limit)
    return rows


def bounded_lines(text, path, what):
    """The lines of a text stream, each refused past MAX_CSV_LINE
    characters before it is split into fields."""
    while True:
        line = text.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        if len(line) > MAX_CSV_LINE:
            raise UserError(f"{readable_name(path)} has a line longer than "
                            f"{MAX_CSV_LINE:,} characters, which no {what} "
                            "has: pass a run's own metrics CSV")
        yield line


def csv_dicts(rows):
    """read_csv's rows as {column: value} dicts, as csv.DictReader gives
    them, blank rows left out (a short row lacks the columns it does not
    reach)."""
    return [dict(zip(rows[0], row)) for row in rows[1:] if row] \
        if rows else []


@contextlib.contextmanager
def checked_npz(path, caps, default_cap, max_total, what, max_members):
    """np.load's view of a .npz (plain arrays only), opened once and checked
    through that open file: a regular file of at most max_members members,
    their declared sizes within their caps (npz_declared) before any is
    inflated."""
    slack = max_total // 100 + CHUNK         # zip's own headers
    with open_checked(path, max_total + slack, what) as f:
        npz_declared(f, caps, default_cap, max_total, max_members)
        f.seek(0)
        with np.load(f, allow_pickle=False) as bundle:
            yield bundle


def zip_declared(archive, caps, default_cap, max_total, strip=""):
    """{member: bytes} of an open zip, from its directory, before any
    member is inflated: each member's declared size within its cap
    (caps[name], name less `strip`; else default_cap) and their sum within
    max_total.  zipfile stops each member at its declared size, so none
    can inflate past it.  A ValueError names the first that is over."""
    declared = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(strip)
        cap = caps.get(name, default_cap)
        if info.file_size > cap:
            raise ValueError(
                f"its member {name!r} claims {megabytes(info.file_size)} "
                f"inflated, over the {megabytes(cap)} it may hold")
        declared[name] = info.file_size
    total = sum(declared.values())
    if total > max_total:
        raise ValueError(f"its members claim {megabytes(total)} inflated, "
                         f"over the {megabytes(max_total)} allowed")
    return declared


def open_zip(f, max_members):
    """zipfile's view of an open file, once its end record says it holds
    at most max_members: zipfile reads the whole directory into memory,
    a member at a time, before anything could be checked."""
    end = zipfile._EndRecData(f)    # how zipfile itself finds the count
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    if end[zipfile._ECD_ENTRIES_TOTAL] > max_members:
        raise ValueError(f"it claims {end[zipfile._ECD_ENTRIES_TOTAL]:,} "
                         f"members, over the {max_members:,} it may hold")
    f.seek(0)
    return zipfile.ZipFile(f)


def npz_declared(f, caps, default_cap, max_total, max_members):
    """zip_declared of a .npz (an open file) of at most max_members
    members, each .npy header's array also exactly its member's declared
    size."""
    with open_zip(f, max_members) as archive:
        declared = zip_declared(archive, caps, default_cap, max_total,
                                ".npy")
        for info in archive.infolist():
            if sum(npy_layout(archive, info)) != info.file_size:
                raise ValueError(
                    f"its member {info.filename.removesuffix('.npy')!r} "
                    f"claims {info.file_size:,} bytes but its array header "
                    "another size")
    return declared


def npy_layout(archive, info):
    """(header bytes, array bytes) of a .npy member, from its first bytes."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(member, max_header_size=10000)
        return member.tell(), int(np.prod(shape, dtype=object)) * dtype.itemsize
