"""Safe file output and input: every file biopair writes or reads back is data, nothing more.

Writing (:func:`write_atomic`): the bytes go to a new temporary file in the destination's
own directory, opened with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (so it is ours and no planted
link redirects it), are written in full and ``fsync``-ed, and the file is then renamed
over the destination with :func:`os.replace`.  A reader sees the old file or the new one,
never a partial or empty one; a crash part-way leaves the old file intact and removes the
temporary file.  Secrets (key logs, pcapng with embedded secrets) are created 0600; other
files 0666 less the umask, the usual 0644.

Refused, each with one line naming the path and the problem (:class:`FileRefused`):

- a symbolic link at the destination: it is never followed, and never replaced either
  (someone put it there; writing "through" it is how a run overwrites a victim file);
- a destination that exists and is not a regular file: a directory, a FIFO (opening one
  blocks until a reader comes), a device, a socket;
- a directory in which no file can be created: a missing directory, a file where the
  directory should be, ``/proc`` and other pseudo-filesystems (``/proc/version`` is a
  "regular" file of size 0 that no one can replace), a read-only or unwritable directory.
  :func:`check_destination` finds these by creating and removing a probe file, so a front
  end can check its output paths before any work is done.

Reading (:func:`read_regular`): only a regular file that is not a symbolic link, opened
with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot make the open hang) and checked with
``fstat`` after opening, up to a size cap.  A missing file is ``None``.

Only the last component of a path is held to these rules: directories on the way may be
symbolic links (a checkout under a linked home directory is normal).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets as _secrets
import stat
from pathlib import Path

#: Mode of files holding secrets (key logs, pcapng with a Decryption Secrets Block).
SECRET_MODE = 0o600
#: Mode of other files, before the umask is applied (the usual 0644 under umask 022).
PUBLIC_MODE = 0o666
#: The largest file :func:`read_regular` reads unless told otherwise (bytes).
READ_LIMIT = 16 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """A path biopair will not write or read; ``str()`` is one line naming it."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _problem(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def refusal(path: str | Path, *, what: str = "") -> str | None:
    """Why ``path`` may not be the destination of a write, or None if it may.

    Looks at the path itself with ``lstat`` (never following a link); the directory is
    not probed (see :func:`check_destination`).

    Args:
        path: the destination.
        what: a prefix naming the file's role (``"--pcap "``), for the message.

    Returns:
        One line naming the path and the problem, or None.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return f"{what}{path}: {Path(path).parent} is not a directory"
    except OSError as exc:
        return f"{what}{path}: cannot be checked: {_problem(exc)}"
    if stat.S_ISLNK(st.st_mode):
        return f"{what}{path}: is a symbolic link, which biopair never follows (remove it)"
    if not stat.S_ISREG(st.st_mode):
        return f"{what}{path}: is {_kind(st.st_mode)}, not a regular file"
    return None


def _temp(path: Path, mode: int) -> tuple[int, Path]:
    # A new file next to the destination, ours alone: O_EXCL refuses an existing name
    # (a planted file or link), O_NOFOLLOW a planted link.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{_secrets.token_hex(6)}.tmp")
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def _directory_problem(path: Path, exc: OSError) -> str:
    parent = path.parent
    if isinstance(exc, FileNotFoundError):
        if not parent.exists():
            return f"{path}: directory {parent} does not exist"
        # /proc and the like: the directory is there, its filesystem takes no new file.
        return f"{path}: cannot create a file in {parent}: the filesystem refuses new files"
    if isinstance(exc, NotADirectoryError):
        return f"{path}: {parent} is not a directory"
    return f"{path}: cannot create a file in {parent}: {_problem(exc)}"


def check_destination(path: str | Path, *, what: str = "") -> str | None:
    """Why a file cannot be written at ``path``, found before any work is done; or None.

    Applies :func:`refusal`, then creates and removes a probe file in the destination's
    directory, which finds a missing or unwritable directory and pseudo-filesystems such
    as ``/proc`` exactly as the real write would.

    Args:
        path: the destination.
        what: a prefix naming the file's role (``"--keylog "``), for the message.

    Returns:
        One line naming the path and the problem, or None.
    """
    path = Path(path)
    refused = refusal(path, what=what)
    if refused is not None:
        return refused
    try:
        fd, temp = _temp(path, SECRET_MODE)
    except OSError as exc:
        return what + _directory_problem(path, exc)
    os.close(fd)
    os.unlink(temp)
    return None


def write_atomic(path: str | Path, data: bytes | str, *, secret: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, never through a symbolic link.

    Args:
        path: the destination; an existing regular file there is replaced.
        data: the content (``str`` is written as UTF-8).
        secret: create the file 0600 (otherwise 0666 less the umask).

    Raises:
        FileRefused: the destination is a symbolic link or not a regular file, or the
            file cannot be created or written (one line naming the path and the problem).
    """
    path = Path(path)
    refused = refusal(path)
    if refused is not None:
        raise FileRefused(refused)
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd, temp = _temp(path, SECRET_MODE if secret else PUBLIC_MODE)
    except OSError as exc:
        raise FileRefused(_directory_problem(path, exc)) from None
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename(2) replaces the directory entry: if a link appeared at the destination
        # since the check above, the link itself is replaced, its target is untouched.
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise FileRefused(f"{path}: cannot be written: {_problem(exc)}") from None
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # Make the rename durable; a filesystem that cannot fsync a directory still renamed.
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_regular(path: str | Path, *, limit: int = READ_LIMIT) -> bytes | None:
    """The content of ``path`` if it is a regular file that is not a symbolic link.

    Args:
        path: the file.
        limit: the largest size read, in bytes.

    Returns:
        The bytes, or None when there is no file at ``path``.

    Raises:
        FileRefused: a symbolic link, not a regular file (a FIFO is refused without
            blocking), larger than ``limit``, or unreadable (one line naming the path).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(f"{path}: is a symbolic link, which biopair never follows "
                              f"(remove it)") from None
        raise FileRefused(f"{path}: cannot be read: {_problem(exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"{path}: is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise FileRefused(f"{path}: is {st.st_size:,} bytes, over the "
                              f"{limit:,}-byte limit")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"{path}: is over the {limit:,}-byte limit")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(f"{path}: cannot be read: {_problem(exc)}") from None
    finally:
        os.close(fd)
