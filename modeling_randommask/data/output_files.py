"""Output files that appear whole or not at all, and never on top of an input or of another run's result.

Each file is written under a unique hidden name in its own folder (``.<name>.<pid>-<random>.partial``), so two runs
with the same output never share a half-written file, then moved into place in one step when complete. Without
``overwrite`` the move is a hard link, which fails if the name appeared meanwhile (another run finished first: its
file is kept and this run says so). A run that fails or is interrupted removes its partial file; only ``kill -9``
can leave one, hidden, beside the output.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class PartialFile:
    """``temp``: where to write; ``commit()`` moves it to ``path``, ``discard()`` removes it (no-op after commit)."""

    def __init__(self, path: str | os.PathLike, overwrite: bool):
        self.path, self.overwrite = Path(path), overwrite
        self.temp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")

    def commit(self) -> None:
        try:
            if self.overwrite:
                os.replace(self.temp, self.path)
                return
            try:
                os.link(self.temp, self.path)
            except FileExistsError:
                raise FileExistsError(f"{self.path} appeared while this run was writing it (another run with the "
                                      "same output?): that file is kept, this run's result is discarded") from None
            except OSError:  # a filesystem without hard links: the plain move
                os.replace(self.temp, self.path)
        finally:
            self.discard()

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


@contextmanager
def partial_file(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """A unique temporary path beside ``path`` to write; it becomes ``path`` when the block ends without error and
    is removed when it raises (``PartialFile``)."""
    file = PartialFile(path, overwrite)
    try:
        yield file.temp
    except BaseException:
        file.discard()
        raise
    file.commit()


def check_new_outputs(outputs: Iterable[str | os.PathLike], overwrite: bool, inputs: Iterable[str | os.PathLike] = (),
                      option: str = "--output") -> None:
    """Before any work: refuse an output that is one of ``inputs``, whose folder is missing, or (unless
    ``overwrite``) that exists."""
    outputs = [Path(path) for path in outputs]
    for path in outputs:
        for given in map(Path, inputs):
            if path.resolve() == given.resolve():
                raise FileExistsError(f"{option} {path} is also an input of this run: give another output file")
        if path.is_dir():
            raise FileExistsError(f"{option} {path} is a folder: give a file name")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"{option} {path}: the folder {path.parent} does not exist")
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists: pass --overwrite to replace it")


def write_whole(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it) through a partial file: a result file that a rerun takes as
    "this stage is done" is never read half-written."""
    with partial_file(path, overwrite=True) as temp:
        temp.write_text(text, encoding="utf-8")
