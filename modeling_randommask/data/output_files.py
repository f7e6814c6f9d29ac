"""The one writer of output files: each appears whole or not at all, never on top of an input, another run's result
or something that is not a regular file.

Each file is written under a unique hidden name in its own folder (``.<name>.<pid>-<random>.partial``), so two runs
with the same output never share a half-written file. When complete it is flushed to disk (fsync), moved into place
in one step, and the folder's entry is flushed too: after a power cut the name holds the old file or the new one,
never a prefix. Without ``overwrite`` the move is a hard link, which fails if the name appeared meanwhile (another
run finished first: its file is kept and this run says so). A file whose size is known up front gets its space
reserved before anything is written (``reserve``), so a full disk or a file-size limit is one error naming the file,
not a crash while writing into a memory map. A run that fails or is interrupted (Ctrl-C, SIGTERM: ``cli.entry``)
removes its partial file; only ``kill -9`` can leave one, hidden, beside the output.

A name that exists and is not a regular file (a device such as ``/dev/stdout``, a FIFO, a folder, or a link to one
of them) is refused before any work (``check_new_outputs``) and is never renamed over.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .options import InputError

SYSTEM_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM)
"""``OSError``s that the disk or the user's permissions cause, not the code: reported as one line naming the file."""


class OutputError(InputError, OSError):
    """An output that cannot be written: not a regular file, or the disk is full or refuses it; names the file."""


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flush ``folder``'s entries (a rename or a new file in it) to disk; a no-op where folders cannot be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some filesystems (and platforms) refuse fsync on a folder
        pass
    finally:
        os.close(handle)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush ``path``'s contents to disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _kind(path: Path) -> str | None:
    """What ``path`` (links followed) is when it exists and is not a regular file, else ``None``."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None


def check_regular(path: str | os.PathLike, option: str = "--output") -> None:
    """Refuse an output name held by something other than a regular file: it would be replaced by a file
    (``/dev/stdout`` as root) or not take a rename at all."""
    path = Path(path)
    kind = _kind(path)
    if kind is not None:
        link = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise OutputError(f"{option} {path} is {kind}{link}, not a regular file: outputs are written whole under a "
                          "temporary name and then moved into place, so give a file name")


def written_error(path: str | os.PathLike, error: OSError) -> OSError:
    """``error`` (raised while writing ``path``) as one line naming ``path`` when the disk is the cause (full, a
    file-size limit, read-only, no permission); otherwise ``error`` itself (a bug keeps its traceback)."""
    if error.errno in SYSTEM_ERRNOS:
        return OutputError(f"{path}: {os.strerror(error.errno)} (nothing was written there; the partial file was "
                           "removed)")
    return error


class PartialFile:
    """``temp``: where to write; ``commit()`` flushes it and moves it to ``path``, ``discard()`` removes it (no-op
    after commit)."""

    def __init__(self, path: str | os.PathLike, overwrite: bool):
        self.path, self.overwrite = Path(path), overwrite
        self.temp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")

    def reserve(self) -> None:
        """Allocate the disk space of ``temp``, already sized (a sparse file), so that writing into it through a
        memory map cannot fail half-way (a full disk there is SIGBUS, not an error). Where the platform has no
        ``posix_fallocate`` (macOS), the space stays sparse."""
        if hasattr(os, "posix_fallocate"):
            handle = os.open(self.temp, os.O_RDWR)
            try:
                os.posix_fallocate(handle, 0, os.fstat(handle).st_size)
            finally:
                os.close(handle)

    def commit(self) -> None:
        try:
            fsync_file(self.temp)
            check_regular(self.path)
            if self.overwrite:
                os.replace(self.temp, self.path)
            else:
                try:
                    os.link(self.temp, self.path)
                except FileExistsError:
                    raise FileExistsError(f"{self.path} appeared while this run was writing it (another run with the "
                                          "same output?): that file is kept, this run's result is discarded") from None
                except OSError:  # a filesystem without hard links: the plain move
                    os.replace(self.temp, self.path)
            fsync_folder(self.path.parent)
        except OSError as error:
            raise written_error(self.path, error) from None
        finally:
            self.discard()

    def discard(self) -> None:
        if os.path.lexists(self.temp):  # (unlink refuses on a read-only folder even when there is nothing to remove)
            self.temp.unlink()


@contextmanager
def partial_file(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """A unique temporary path beside ``path`` to write; it becomes ``path`` (flushed) when the block ends without
    error and is removed when it raises (``PartialFile``); a full disk is one error naming ``path``."""
    file = PartialFile(path, overwrite)
    try:
        yield file.temp
    except OSError as error:
        file.discard()
        raise written_error(path, error) from None
    except BaseException:
        file.discard()
        raise
    file.commit()


@contextmanager
def partial_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A unique temporary folder beside ``path`` to write; when the block ends without error its files are flushed
    and it replaces ``path`` (an earlier folder there is moved aside first and then removed), so ``path`` never
    holds half a model; when the block raises it is removed."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")
    temp.mkdir()
    try:
        yield temp
        replace_folder(temp, path)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise written_error(path, error) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def replace_folder(temp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the complete folder ``temp`` to ``path`` (a sibling name) so that after a crash ``path`` holds the old
    folder or the new one, whole: every file and folder in ``temp`` is flushed to disk first, a folder already at
    ``path`` is moved aside (``<temp>.old``) and removed once the new one is in place, and the parent's entries are
    flushed after the move. The caller makes sure nobody else writes ``path`` meanwhile (a lock, a unique run)."""
    temp, path = Path(temp), Path(path)
    for entry in temp.rglob("*"):
        if entry.is_dir():
            fsync_folder(entry)
        elif entry.is_file():
            fsync_file(entry)
    fsync_folder(temp)
    old = temp.with_name(temp.name + ".old")
    if path.exists():
        os.replace(path, old)
    os.replace(temp, path)
    fsync_folder(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def check_new_outputs(outputs: Iterable[str | os.PathLike], overwrite: bool, inputs: Iterable[str | os.PathLike] = (),
                      option: str = "--output") -> None:
    """Before any work: refuse an output that is one of ``inputs``, is not a regular file (a device, a FIFO, a
    folder, or a link to one), whose folder is missing, or (unless ``overwrite``) that exists."""
    outputs = [Path(path) for path in outputs]
    for path in outputs:
        for given in map(Path, inputs):
            if path.resolve() == given.resolve():
                raise FileExistsError(f"{option} {path} is also an input of this run: give another output file")
        if path.is_dir():
            raise FileExistsError(f"{option} {path} is a folder: give a file name")
        check_regular(path, option)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"{option} {path}: the folder {path.parent} does not exist")
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists: pass --overwrite to replace it")


def write_whole(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it) through a partial file, flushed to disk: a result, a checkpoint's
    small file or a pointer that a later run trusts is never read half-written."""
    with partial_file(path, overwrite=True) as temp:
        temp.write_text(text, encoding="utf-8")
