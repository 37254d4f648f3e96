"""Why the local store cannot be used, said in one line, and files kept private.

SQLite and the file system report trouble with a store as exceptions whose text
means little to an operator ("file is not a database", "[Errno 30] Read-only file
system"). :func:`store_errors` turns them into a :class:`StoreError` naming the file,
the problem and what to do; the CLI prints it as its one error line and the console
shows it in a dialog. Nothing here ever writes to, moves or deletes a store file.

Stores hold customers' names, e-mails, phones and addresses, so the directories
made for them are created ``0700`` and their files ``0600``
(:func:`private_dir`, :func:`private_file`, :func:`make_private`).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# SQLite's companions of a database file in WAL mode.
_COMPANION_SUFFIXES: tuple[str, ...] = ("-wal", "-shm", "-journal")

# SQLite primary result codes (the low byte of ``sqlite_errorcode``).
_SQLITE_PERM = 3
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


class StoreError(Exception):
    """The local store at :attr:`path` cannot be used; ``str()`` is one line for the user.

    :attr:`exit_code` is what the command line exits with: 2 when the path itself was
    the user's mistake (``--data-dir`` naming a file), 1 otherwise.
    """

    def __init__(
        self,
        path: Path,
        problem: str,
        advice: str,
        *,
        what: str = "local store",
        user_mistake: bool = False,
    ) -> None:
        """``what`` ``path``: ``problem``; ``advice`` — e.g. ``local store /x.sqlite3: …``."""
        self.path = path
        self.problem = problem
        self.advice = advice
        self.exit_code = 2 if user_mistake else 1
        super().__init__(f"{what} {path}: {problem}; {advice}")


def newer_schema(path: Path, found: int, supported: int) -> StoreError:
    """The store was written by a newer ChannelDesk than this one."""
    return StoreError(
        path,
        f"written by a newer ChannelDesk (store schema {found}; this one reads up to {supported})",
        "run that newer version, or pass another --data-dir; the file was left as it is",
    )


def classify(exc: BaseException, path: Path) -> StoreError | None:
    """The :class:`StoreError` that ``exc`` (raised using the store at ``path``) means.

    ``None`` for errors that are not about the file (a constraint, a busy lock, a bug),
    which callers let through unchanged.
    """
    if isinstance(exc, sqlite3.Error):
        return _classify_sqlite(exc, path)
    if isinstance(exc, OSError):
        return _classify_os(exc, path)
    return None


@contextmanager
def store_errors(path: Path | None) -> Iterator[None]:
    """Raise a :class:`StoreError` for file-level failures inside the block.

    ``path`` ``None`` (an in-memory store) lets everything through unchanged.
    """
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        error = None if path is None else classify(exc, path)
        if error is None:
            raise
        raise error from exc


def private_dir(path: Path) -> None:
    """Make sure ``path`` is a directory, creating it (and missing parents) ``0700``.

    Directories that exist already keep their mode: they may be shared on purpose.
    Raises :class:`StoreError` (a user mistake) when ``path`` or a parent is a file.
    """
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise _not_a_directory(candidate)
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise _not_a_directory(directory) from None
            continue  # created by another process meanwhile
        except OSError as exc:
            # It could not be made: the trouble is with the directory it goes in.
            raise _classify_os(exc, directory.parent, what="directory") from exc
        # mkdir's mode is filtered by the umask; set it exactly.
        os.chmod(directory, PRIVATE_DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode ``0600`` if it does not exist; never touch it if it does.

    SQLite gives the ``-wal`` and ``-shm`` files it makes the database file's mode, so
    creating the file private first keeps its companions private too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise _classify_os(exc, path) from exc
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)


def make_private(path: Path) -> None:
    """Give the store ``path``, its WAL companions and its migration backups mode 0600.

    Files this user does not own, or on a read-only disk, are left as they are: the
    store still opens, and privacy is not worth refusing it over.
    """
    names = [path, *(path.with_name(path.name + suffix) for suffix in _COMPANION_SUFFIXES)]
    names += path.parent.glob(f"{_glob_escape(path.name)}.v*.bak")
    for name in names:
        try:
            if stat.S_IMODE(name.stat().st_mode) & ~PRIVATE_FILE_MODE:
                os.chmod(name, PRIVATE_FILE_MODE)
        except (FileNotFoundError, PermissionError):
            continue
        except OSError as exc:
            if exc.errno != errno.EROFS:
                raise


# -- classification ------------------------------------------------------------------------


def _classify_sqlite(exc: sqlite3.Error, path: Path) -> StoreError | None:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    said = str(exc)
    if primary in (_SQLITE_NOTADB,) or "not a database" in said:
        return StoreError(
            path,
            "not a SQLite database",
            "move it out of the way (a new store is then created) or pass another "
            "--data-dir; the file was left as it is",
        )
    if primary == _SQLITE_CORRUPT or "malformed" in said:
        backups = sorted(path.parent.glob(f"{_glob_escape(path.name)}.v*.bak"))
        copy = f"a copy (such as {backups[-1].name} beside it)" if backups else "a backup"
        return StoreError(
            path,
            "damaged (SQLite: database disk image is malformed)",
            f"restore it from {copy} or move it out of the way to start a new store; "
            "the file was left as it is",
        )
    if primary == _SQLITE_FULL or "disk is full" in said:
        return StoreError(
            path,
            "the disk is full",
            "free space on that disk and run again; the last change was not saved",
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM) or "readonly" in said:
        return _read_only(path)
    if primary == _SQLITE_CANTOPEN or "unable to open" in said:
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return _read_only(path)
        return StoreError(
            path,
            "SQLite cannot open it",
            "check that its directory exists and belongs to this user, or pass another --data-dir",
        )
    if primary == _SQLITE_IOERR:
        return StoreError(
            path,
            f"read or write failed (SQLite: {said})",
            "check the disk it is on; the file was left as it is",
        )
    return None


def _classify_os(exc: OSError, path: Path, *, what: str = "local store") -> StoreError:
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _read_only(path)
    if exc.errno == errno.ENOSPC:
        return StoreError(
            path, "the disk is full", "free space on that disk and run again", what=what
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return _not_a_directory(_first_file(path))
    return StoreError(path, exc.strerror or str(exc), "check the disk it is on", what=what)


def _read_only(path: Path) -> StoreError:
    if path.is_dir():
        return StoreError(
            path,
            "read-only",
            "make it writable for this user, or pass another --data-dir",
            what="directory",
        )
    return StoreError(
        path,
        "read-only (the file or its directory cannot be written)",
        "make both writable for this user, or pass another --data-dir",
    )


def _not_a_directory(path: Path) -> StoreError:
    return StoreError(
        path,
        "a file, not a directory",
        "pass a directory with --data-dir (or CHANNELDESK_DATA_DIR); the file was left as it is",
        what="data directory",
        user_mistake=True,
    )


def _first_file(path: Path) -> Path:
    """The first component of ``path`` that exists and is not a directory (else ``path``)."""
    for candidate in (*reversed(path.parents), path):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path


def _glob_escape(name: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in name)


@contextmanager
def private_umask() -> Iterator[None]:
    """Inside the block, files and directories anyone creates are for this user only.

    The entry points (command line, console) run under it, so files written by code
    that does not set modes itself (simulator state, exports) are private too. The
    previous umask comes back when the block ends.
    """
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
