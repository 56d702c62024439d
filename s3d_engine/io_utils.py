"""File access with guard rails.

Writes are atomic: write to a temporary sibling, fsync, give it the umask's mode, then rename
over the target, so a killed process never leaves a half-written output behind. A write that
fails (no space, no permission, a file in the way) removes its temporary file and raises
`OutputError` with one line.

Reads of user-supplied files go through `open_regular`: only regular files (never a device, a
FIFO or a folder, which could block or never end), no larger than a stated limit.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import OutputError, S3DError

TMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (thread-safe on Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_error(exc: OSError, path: Path) -> OutputError:
    """One clear line for an OSError met while writing `path`."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        text = f"no space left on the disk to write {path}; free some space or choose another output folder"
    elif code in (errno.EACCES, errno.EPERM):
        text = f"permission denied writing {path}; choose an output folder you can write to"
    elif code == errno.EROFS:
        text = f"cannot write {path}: the file system is read-only; choose another output folder"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        text = f"cannot write {path}: a file is in the way of the folder; give another output folder"
    elif code == errno.EISDIR:
        text = f"cannot write {path}: a folder of that name is in the way; move it or choose another output folder"
    else:
        text = f"cannot write {path}: {exc.strerror or exc}"
    return OutputError(text)


def make_folder(folder: str | os.PathLike) -> Path:
    """Create an output folder (and its parents); a file in the way or no permission is one line."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"the output folder {folder} is an existing file; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder) from None
    return folder


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` atomically, with mode
    0o666 masked by the umask (as `open()` would give). On any error the temporary file is gone."""
    target = Path(path)
    make_folder(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise output_error(exc, target) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            os.chmod(tmp_path, 0o666 & ~current_umask())
            with open(tmp_path, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp_path, target)
        except OSError as exc:
            raise output_error(exc, target) from None
    finally:
        _remove_quietly(tmp_path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def open_regular(path: str | os.PathLike, what: str, max_bytes: int,
                 error: type[S3DError] = S3DError) -> BinaryIO:
    """Open a user-supplied file for reading, refusing what is not a regular file or is larger
    than `max_bytes`. Symlinks are followed, then the file itself is checked (so a link to
    /dev/zero is refused); O_NONBLOCK keeps a FIFO from blocking the open."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise error(f"{what} is a folder, not a file: {path}") from None
    except OSError as exc:
        raise error(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{what} is a folder, not a file: {path}")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} is not a regular file (a device, pipe or socket): {path}")
        if info.st_size > max_bytes:
            raise error(f"{what} is too large: {info.st_size:,} bytes, the limit is {max_bytes:,}: {path}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | os.PathLike, what: str, max_bytes: int, error: type[S3DError] = S3DError) -> bytes:
    """The whole of a regular file of at most `max_bytes` (a file that grows past it is refused)."""
    with open_regular(path, what, max_bytes, error) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} is too large: over {max_bytes:,} bytes: {path}")
    return data


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20, *, what: str = "file",
                max_bytes: int | None = None, error: type[S3DError] = S3DError) -> str:
    """sha256 of a regular file; with `max_bytes`, larger files are refused before hashing."""
    limit = max_bytes if max_bytes is not None else 1 << 62
    digest = hashlib.sha256()
    with open_regular(path, what, limit, error) as handle:
        size = os.fstat(handle.fileno()).st_size
        left = size
        while left > 0:
            block = handle.read(min(chunk, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
        if left != 0 or handle.read(1):
            raise error(f"{what} changed while it was read: {path}")
    return digest.hexdigest()
