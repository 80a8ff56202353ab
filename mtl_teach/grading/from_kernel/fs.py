"""The one way the trusted side touches a folder a kernel could have written: no link is ever followed.

A kernel can leave anything where the grader looks later: a symlink where the
grader makes a folder or reads a file (the grader, as its own user, would then
write or read wherever the link points), a FIFO that blocks a reader forever,
a folder chain 1500 deep or without permissions, a million entries. So every
step the grader takes on such a path goes through a :class:`Folder`, a
directory held open by a file descriptor:

- each operation is relative to that descriptor (``openat``, ``mkdirat``,
  ``unlinkat``), so a path component swapped for a link is never walked;
- the last component is opened with ``O_NOFOLLOW``: a link fails instead of
  being followed;
- folders and files are created with exclusive creation: a name that already
  exists (a kernel planted it) is never reused;
- reads take regular files only (``O_NONBLOCK``, then ``fstat``), up to a
  size checked before reading;
- removal is iterative and bounded (a deep chain is lifted to the top
  instead of recursed into, so neither Python's stack nor the open-file limit
  is at stake) and never raises: it returns whether everything went.

Nothing else in :mod:`mtl_teach.grading` creates, reads or removes a path a
kernel could have written (``tests/test_trust_boundary.py`` checks).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from pathlib import Path

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
DEPTH = 64  # folders open at once while removing; deeper ones are lifted up to the top first
MAX_ENTRIES = 2_000_000  # removal gives up (and says so) past this many entries...
MAX_SECONDS = 120.0  # ...or this long


class NotAFile(OSError):
    """The name is a link, a FIFO, a device or a folder where the grader expected a regular file."""


class TooLarge(OSError):
    """The file is larger than the grader reads."""


class Folder:
    """A directory held open by a descriptor; ``path`` is where it was when opened (for messages and for a
    sandbox's command line, which the grader writes before any kernel runs).

    Use it as a context manager, or :meth:`close` it.
    """

    def __init__(self, fd: int, path: str | Path) -> None:
        self.fd, self.path = fd, Path(path)

    def __repr__(self) -> str:
        return f"Folder({str(self.path)!r}, fd={self.fd})"

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    # --- opening and making folders ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> Folder:
        """The existing folder ``path``; its last component must not be a link (its parents are the grader's)."""
        return cls(os.open(path, O_DIR), path)

    @classmethod
    def create_path(cls, path: str | Path) -> Folder:
        """The grader's own folder ``path`` (an output folder), made with its parents if missing."""
        os.makedirs(path, exist_ok=True)
        return cls.open(path)

    @classmethod
    def temporary(cls, parent: str | Path, prefix: str) -> Folder:
        """A new, empty folder under ``parent`` with a fresh random name (``mkdtemp``, held open)."""
        with cls.open(parent) as folder:
            return folder.fresh(prefix)

    def make(self, name: str, mode: int = 0o700) -> Folder:
        """A new, empty folder ``name`` here; fails with FileExistsError if anything has that name."""
        _plain(name)
        os.mkdir(name, mode, dir_fd=self.fd)
        return Folder(os.open(name, O_DIR, dir_fd=self.fd), self.path / name)

    def fresh(self, prefix: str, mode: int = 0o700) -> Folder:
        """A new folder named ``prefix`` + random letters: a name a kernel cannot have planted in advance."""
        for _ in range(100):
            try:
                return self.make(f"{prefix}{secrets.token_hex(6)}", mode)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, f"no fresh name for {prefix!r} in {self.path}")

    def sub(self, name: str, mode: int = 0o755) -> Folder:
        """The folder ``name`` here, made if missing (for the grader's own output folders); never a link."""
        _plain(name)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, mode, dir_fd=self.fd)
        return Folder(os.open(name, O_DIR, dir_fd=self.fd), self.path / name)

    # --- files ---------------------------------------------------------------------------------------------

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of the regular file ``name``; :class:`NotAFile` or :class:`TooLarge` before reading a byte."""
        _plain(name)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise NotAFile(errno.EINVAL, f"{name} is not a regular file") from None
            raise
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(errno.EINVAL, f"{name} is not a regular file")
            if info.st_size > limit:
                raise TooLarge(errno.EFBIG, f"{name} holds {info.st_size} bytes, over {limit}")
            data = handle.read(limit + 1)
        if len(data) > limit:  # it grew while we read
            raise TooLarge(errno.EFBIG, f"{name} holds over {limit} bytes")
        return data

    def write(self, name: str, data: bytes, mode: int = 0o600) -> None:
        """Create the new file ``name`` holding ``data``; FileExistsError if the name is taken."""
        _plain(name)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def replace(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Put ``data`` at ``name`` atomically: a fresh file, renamed over it (a rename never follows a link)."""
        _plain(name)
        for _ in range(100):
            temporary = f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                self.write(temporary, data, mode)
                break
            except FileExistsError:
                continue
        try:
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except IsADirectoryError:  # something made a folder where our file goes: move it aside
            self.remove(name)
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=self.fd)

    def append(self, name: str, data: bytes) -> None:
        """Append ``data`` to the regular file ``name`` (made if missing) and flush it to disk."""
        _plain(name)
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        with os.fdopen(fd, "ab") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise NotAFile(errno.EINVAL, f"{name} is not a regular file")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def discard(self, name: str) -> None:
        """Remove the file or link ``name`` if there is one (never what a link points to)."""
        _plain(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def names(self) -> list[str]:
        return os.listdir(self.fd)

    # --- removing and measuring ----------------------------------------------------------------------------

    def remove(self, name: str, max_entries: int = MAX_ENTRIES, seconds: float = MAX_SECONDS) -> bool:
        """Remove ``name`` here, whatever it is; True if it is gone. Never raises, never follows a link."""
        try:
            _plain(name)
            return _Remover(max_entries, seconds).remove(self.fd, name)
        except Exception:  # removal must never take the grader down
            return False

    def clear(self, max_entries: int = MAX_ENTRIES, seconds: float = MAX_SECONDS) -> bool:
        """Remove everything in this folder; True if it is empty. Never raises."""
        try:
            remover = _Remover(max_entries, seconds)
            return all([remover.remove(self.fd, name) for name in os.listdir(self.fd)])
        except Exception:
            return False

    def usage(self, stop_at: int, max_depth: int = 256) -> tuple[int, int, str]:
        """Bytes (allocated) and entries under this folder, links not followed; stops counting past ``stop_at``.

        Returns ``(bytes, entries, trouble)``: ``trouble`` says why the count is not the whole story
        (folders nested past ``max_depth``, or a folder the grader cannot open), so the caller can treat
        it as over its caps; "" otherwise. Never raises.
        """
        size = entries = 0
        trouble = ""
        stack: list[tuple[int, list[os.DirEntry[str]]]] = []
        try:
            top = os.dup(self.fd)
            stack.append((top, _listing(top)))
            while stack and entries <= stop_at and not trouble:
                fd, listing = stack[-1]
                if not listing:
                    os.close(fd)
                    stack.pop()
                    continue
                entry = listing.pop()
                entries += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we looked
                    continue
                size += info.st_blocks * 512
                if not stat.S_ISDIR(info.st_mode):
                    continue
                if len(stack) >= max_depth:
                    trouble = f"nested folders over {max_depth} deep"
                    continue
                try:
                    child = os.open(entry.name, O_DIR, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError:
                    trouble = "made a folder the grader cannot read"
                    continue
                stack.append((child, _listing(child)))
        except OSError:
            pass
        finally:
            for fd, _ in stack:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return size, entries, trouble


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (links followed: an instructor's own file), or an OSError.

    For the grader's inputs (submissions, sources), which no kernel can write: still a FIFO or device is
    refused before it could block, and the size is checked before reading (:class:`TooLarge`).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(errno.EINVAL, f"{path} is not a regular file")
        if info.st_size > limit:
            raise TooLarge(errno.EFBIG, f"{path} holds {info.st_size} bytes, over {limit}")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(errno.EFBIG, f"{path} holds over {limit} bytes")
    return data


def remove(path: str | Path, max_entries: int = MAX_ENTRIES, seconds: float = MAX_SECONDS) -> bool:
    """Remove ``path`` (its last component is not followed if it is a link); True if it is gone. Never raises."""
    path = Path(path)
    try:
        with Folder.open(path.parent) as parent:
            return parent.remove(path.name, max_entries, seconds)
    except FileNotFoundError:
        return True
    except Exception:
        return False


def _plain(name: str) -> None:
    """``name`` must be one entry of a folder: no separator, not ``.`` or ``..``, nothing empty."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise ValueError(f"not a plain file name: {name!r}")


def _listing(fd: int) -> list[os.DirEntry[str]]:
    with os.scandir(fd) as entries:
        return list(entries)


class _Remover:
    """Iterative removal with at most :data:`DEPTH` folders open; deeper folders are moved up to the top."""

    def __init__(self, max_entries: int, seconds: float) -> None:
        self.left = max_entries
        self.deadline = time.monotonic() + seconds

    def _spent(self) -> bool:
        return self.left <= 0 or time.monotonic() > self.deadline

    def remove(self, parent: int, name: str) -> bool:
        try:
            os.unlink(name, dir_fd=parent)  # a file, a link, a FIFO, a socket: gone, nothing followed
            return True
        except FileNotFoundError:
            return True
        except (IsADirectoryError, PermissionError):
            pass  # Linux says EISDIR for a folder (EPERM on some file systems)
        except OSError:
            return False
        top = _open_dir(parent, name)
        if top is None:
            return False
        try:
            while self._empty(top):
                pass
            if self._spent():
                return False
        finally:
            os.close(top)
        try:
            os.rmdir(name, dir_fd=parent)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return True

    def _empty(self, top: int) -> bool:
        """One sweep that removes what it can under ``top``; True while another sweep is needed."""
        # each level: (descriptor, its name in the level below, the entries still to remove)
        stack: list[tuple[int, str | None, list[str]]] = [(os.dup(top), None, [])]
        stack[0][2].extend(os.listdir(top))
        lifted = False
        try:
            while stack and not self._spent():
                fd, _, pending = stack[-1]
                descended = False
                while pending and not self._spent():
                    entry = pending.pop()
                    self.left -= 1
                    try:
                        os.unlink(entry, dir_fd=fd)
                        continue
                    except FileNotFoundError:
                        continue
                    except (IsADirectoryError, PermissionError):
                        pass
                    if len(stack) >= DEPTH:  # lift the rest of a deep chain up to the top, for a later sweep
                        os.rename(entry, f".lifted-{secrets.token_hex(6)}", src_dir_fd=fd, dst_dir_fd=top)
                        lifted = True
                        continue
                    child = _open_dir(fd, entry)
                    if child is None:
                        return False
                    stack.append((child, entry, os.listdir(child)))
                    descended = True
                    break
                if descended or self._spent():
                    continue
                done, name, _ = stack.pop()
                os.close(done)
                if name is not None:
                    os.rmdir(name, dir_fd=stack[-1][0])
            return lifted and not self._spent()
        except OSError:
            return False
        finally:
            for fd, _, _ in stack:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _open_dir(parent: int, name: str) -> int | None:
    """``name`` in ``parent`` opened as a folder we may empty (made writable first), or None."""
    try:
        fd = os.open(name, O_DIR, dir_fd=parent)
    except PermissionError:  # no read permission: reach it without reading, make it ours again
        try:
            handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=parent)
            try:
                os.chmod(f"/proc/self/fd/{handle}", 0o700)
            finally:
                os.close(handle)
            fd = os.open(name, O_DIR, dir_fd=parent)
        except OSError:
            return None
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o700)  # write and search permission, to remove what is inside
    return fd
