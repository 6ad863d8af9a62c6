"""Opening an embedded chDB database folder (``chdb://PATH``) with clear errors.

A newcomer's slips each get their own message instead of an empty database or an engine
trace: a path whose parent folder does not exist (a typo; only the default location
``.coselling-data/chdb`` is created with its parent), a file where the folder should be,
a folder that holds no chDB database when one is only read, and a folder another process
has open (chDB locks ``PATH/status``; the holder is named when ``/proc/locks`` tells).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .exceptions import ChdbFolderBusyError, ChdbPathError, SinkConfigError, SinkUnavailableError

DEFAULT_PATH = Path(".coselling-data/chdb")
#: What ClickHouse keeps in a database folder; a folder without it holds no database.
MARKER = "metadata"
#: The file chDB locks while a process has the folder open.
LOCK_FILE = "status"


def folder_of(dsn: str) -> Path:
    """The absolute database folder a ``chdb://`` DSN names."""
    parts = urlsplit(dsn)
    return Path((parts.netloc + parts.path) or DEFAULT_PATH).expanduser().resolve()


def will_create(dsn: str) -> bool:
    """Whether opening ``dsn`` (``chdb://PATH``, no options) creates a new database.

    True for a folder that holds no database yet and that opening can create: an empty
    folder, or a missing one whose parent folder exists (or the default location). Any
    case opening would refuse (a file, a missing parent, options to check) is False.
    """
    parts = urlsplit(dsn)
    if parts.scheme != "chdb" or parts.query:
        return False
    path = folder_of(dsn)
    if path.is_dir():
        return not (path / MARKER).exists()
    return not path.exists() and (path.parent.is_dir() or path == DEFAULT_PATH.resolve())


def open_chdb(dsn: str, *, create: bool):
    """A clickhouse-connect client on the chDB folder of ``dsn``.

    :param create: a missing folder may be created (commands that write); otherwise
        the folder must hold a chDB database already (commands that only read).
    """
    from clickhouse_connect.driver._chdbclient import ChdbClient

    path = folder_of(dsn)
    options = parse_qs(urlsplit(dsn).query)
    unknown = set(options) - {"config-file"}
    if unknown:
        raise SinkConfigError(f"unknown chdb:// DSN option(s): {', '.join(sorted(unknown))}")
    _check_folder(path, create=create)
    location = str(path)
    if "config-file" in options:
        config = Path(options["config-file"][0]).expanduser().resolve()
        if not config.is_file():
            raise SinkConfigError(f"chDB config file {config} does not exist")
        location += f"?config-file={config}"
    client, failure, messages = _open_quietly(ChdbClient, location)
    if client is not None:
        return client
    holder = lock_holder(path)
    if holder is not None:
        raise ChdbFolderBusyError(
            f"chDB folder {path} is in use by another process{holder}: a chDB folder opens "
            "in one process at a time; stop that process (the sink, a report) and try again, "
            "or use a ClickHouse server") from failure
    reason = next((ln for ln in messages if "Exception" in ln),
                  (str(failure).splitlines() or [type(failure).__name__])[0])
    raise SinkUnavailableError(f"chDB could not open {path}: {reason[:300]}") from failure


def _check_folder(path: Path, *, create: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ChdbPathError(f"chDB path {path} is a file, not a folder (chdb://PATH names "
                            "the database folder)")
    if path.is_dir():
        if not create and not (path / MARKER).is_dir():
            inner = next((c for c in sorted(path.iterdir())
                          if c.is_dir() and (c / MARKER).is_dir()), None)
            hint = f"; did you mean chdb://{inner}?" if inner else ""
            raise ChdbPathError(f"{path} holds no chDB database (no {MARKER}/ folder in "
                                f"it){hint}")
        return
    if not create:
        raise ChdbPathError(f"no chDB database at {path}: the folder does not exist (check "
                            "the path in the DSN; `coselling demo`, `replay` and `migrate` "
                            "create one)")
    if path == DEFAULT_PATH.resolve():
        path.mkdir(parents=True, exist_ok=True)
        return
    if not path.parent.is_dir():
        what = "is a file" if path.parent.exists() else "does not exist"
        raise ChdbPathError(f"chDB folder {path} cannot be created: its parent folder "
                            f"{path.parent} {what} (check the path in the DSN)")
    path.mkdir()


def lock_holder(path: Path) -> str | None:
    """None if nobody holds ``path``'s chDB lock, else " (pid N: command)" or ""."""
    import fcntl

    lock = path / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return _holder_from_proc(os.fstat(fd).st_ino)
    finally:
        os.close(fd)


def _holder_from_proc(inode: int) -> str:
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return ""
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
            pid = fields[4]
            try:
                cmd = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes()
                               .decode(errors="replace").split())  # one line, whatever argv held
                return f" (pid {pid}: {cmd[:80]})"
            except OSError:
                return f" (pid {pid})"
    return ""


def _open_quietly(client_class, location: str):
    """(client, None, []) or (None, error, the engine's stderr lines).

    The chDB engine prints its own lines on file descriptor 2 when it fails to open
    (``Code: 76. DB::Exception: Cannot lock file``); they are kept so the failure is
    explained in one line instead. Anything else written meanwhile (another thread's
    log line) is passed on, and after a successful open everything is.
    """
    from clickhouse_connect.driver.exceptions import ClickHouseError

    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            client, failure = client_class(path=location), None
        except (ClickHouseError, RuntimeError, OSError) as exc:
            client, failure = None, exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read()
    if client is not None:
        if text:
            os.write(2, text)
        return client, None, []
    lines = text.decode(errors="replace").splitlines()
    others = [ln for ln in lines if ln.strip() and "DB::Exception" not in ln]  # not the engine's
    if others:
        os.write(2, ("\n".join(others) + "\n").encode())
    return None, failure, lines
