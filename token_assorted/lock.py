"""One run at a time per output directory: a second run pointed at the same directory is refused, not interleaved.

The lock is an `flock` on `.<name>.lock` beside the directory, holding the owner's pid and removed when the
run ends. The kernel drops an flock when its process dies, so a run killed with SIGKILL never blocks the next
one; the file and pid it left behind only let the next run say that it took over. Under DDP only the
launching process (rank 0) locks: the ranks it starts belong to the same run. Folders made for the lock file
are removed again when the run leaves them empty (a command that failed before writing leaves nothing). flock
needs a local (or flock-aware network) filesystem.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
from pathlib import Path

from .errors import ToolkitError


class DirectoryBusy(ToolkitError):
    """Another live run holds the lock of the output directory."""


def lock_file(directory) -> Path:
    directory = Path(directory)
    return directory.parent / f".{directory.name}.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recorded_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None


def _launched_rank() -> bool:
    return any(int(os.environ.get(name, "0") or 0) > 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def _missing_parents(path: Path) -> list[Path]:
    """The folders above `path` that do not exist yet, deepest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _acquire(path: Path, directory) -> int:
    """An open descriptor of the lock file at `path`, flocked by this process."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            continue  # a failed run beside this one removed the folder it had made, now empty: make it again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _recorded_pid(fd)
            os.close(fd)
            raise DirectoryBusy(
                f"another run (pid {holder if holder is not None else 'unknown'}) is writing {directory}; "
                "wait for it to finish, or point this run at another directory (out_dir=... or data.dir=...)"
            ) from None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)  # the previous holder removed the file between our open and flock: lock the new one


@contextlib.contextmanager
def run_lock(directory):
    """Hold the lock of `directory` for the block; DirectoryBusy if a live run holds it."""
    if _launched_rank():
        yield
        return
    path = lock_file(directory)
    made = _missing_parents(path)
    fd = _acquire(path, directory)
    try:
        stale = _recorded_pid(fd)
        if stale is not None and stale != os.getpid() and not _pid_alive(stale):
            print(f"note: {directory} was left by a run that ended without finishing (pid {stale}); taking over")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.unlink(path)  # while still holding it: a run that opened the old file sees it is gone and retries
        os.close(fd)
        for folder in made:  # a run that wrote nothing leaves no empty folders behind
            try:
                folder.rmdir()
            except OSError:  # not empty: it holds outputs, or another run's lock
                break


def holding_lock(directory_of):
    """Decorate an entry point's `run(cfg, ...)` to hold the lock of `directory_of(cfg)` while it runs."""

    def decorate(run):
        @functools.wraps(run)
        def locked(cfg, *args, **kwargs):
            with run_lock(directory_of(cfg)):
                return run(cfg, *args, **kwargs)

        return locked

    return decorate
