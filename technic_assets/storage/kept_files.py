"""What a process keeps of a store (storage.kept), also kept in files beside it, so that a fresh process
(a `technic backtest`, a restarted page) reads back in a second what took the first one twenty: the
re-screen's span of stored inputs, the bars' Market.

A shelf is a folder under `<store>.kept/` (a DuckDB store's: an Iceberg warehouse keeps none), named
for what its values were made from: the store's version (any write to the store makes another), the
caller's key, and the code that made them (a hash of this package's source and of the versions of
Python and of the libraries that read and pickle, so another build never reads them). Each name
keeps its newest shelf only: making one removes the older ones.

A value is pickled (protocol 5) with its arrays' memory out of band, in a second file that is read
back memory-mapped: a 1.2 GB span costs the pages a caller touches, not a copy, and its arrays come
back read-only (shared, as storage.kept hands them out). These files are the package's own cache,
written and read by the same code; as with the store beside them, whoever can write them can change
what the scanner computes. A shelf that cannot be written (a read-only disk) keeps nothing; an item
that cannot be read is made again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mmap
import os
import pickle
import shutil
import sys
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

ALIGN = 64  # each array's memory starts on a 64-byte boundary of the buffers' file


class Shelf:
    """The values kept for one (name, key) of one store version, each under an item name."""

    def __init__(self, folder: Path | None):
        self.folder = folder  # None: nothing is kept (a store without a version or a file)

    @classmethod
    def of(cls, history, name: str, key: tuple) -> "Shelf":
        root = history.beside()
        version = history.version() if root is not None else None
        if version is None:  # no store file yet, or a store that keeps no files (Iceberg)
            return cls(None)
        digest = hashlib.sha256(repr((name, key, version, code_version())).encode()).hexdigest()[:24]
        return cls(root / f"{name}-{digest}")

    def get(self, item: str):
        """The value kept under `item`, or None (never kept, or unreadable: then it is removed)."""
        if self.folder is None or not (self.folder / f"{item}.pickle").exists():
            return None
        try:
            return _read(self.folder, item)
        except FileNotFoundError:  # rewritten under our feet (its old buffers removed): made again
            return None
        except Exception as exc:  # a damaged or foreign file: the caller makes the value again
            log.warning("kept file %s unreadable (%s: %s); making it again", self.folder / item,
                        type(exc).__name__, exc)
            (self.folder / f"{item}.pickle").unlink(missing_ok=True)
            return None

    def put(self, item: str, value) -> None:
        """Keep `value` under `item`: its buffers' file written whole under a name of its own, then the
        stream that names it renamed into place (a reader sees the old item, none, or the new one); the
        name's older shelves removed first."""
        if self.folder is None:
            return
        try:
            if not self.folder.is_dir():
                _clear_older(self.folder)
                self.folder.mkdir(parents=True, exist_ok=True)
            _write(self.folder, item, value)
        except OSError as exc:
            log.warning("could not keep %s beside the store (%s); it is made again in each process", item, exc)

    def get_or_make(self, item: str, make):
        """The kept value of `item`, else make()'s, kept."""
        value = self.get(item)
        if value is None:
            value = make()
            self.put(item, value)
        return value


def discard(history) -> None:
    """Remove every shelf of the store (the benchmarks time a first call after a write)."""
    if history.beside() is not None:
        shutil.rmtree(history.beside(), ignore_errors=True)


@functools.cache
def code_version() -> str:
    """A hash of this package's source and of the libraries that read the store and pickle its frames."""
    root = Path(__file__).resolve().parents[1]
    libraries = [f"{name} {metadata.version(name)}" for name in ("numpy", "pandas", "duckdb", "pyarrow")]
    digest = hashlib.sha256("|".join([sys.version, *libraries]).encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _clear_older(folder: Path) -> None:
    prefix = folder.name.rsplit("-", 1)[0] + "-"
    if folder.parent.is_dir():
        for other in folder.parent.iterdir():
            if other.name.startswith(prefix) and other != folder:
                shutil.rmtree(other, ignore_errors=True)


def _write(folder: Path, item: str, value) -> None:
    buffers: list[pickle.PickleBuffer] = []
    stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    table, offset = [], 0
    memory = f"{item}.{os.urandom(6).hex()}.bin"  # its own name: two writers never mix their files
    part = folder / f"{item}.pickle.{os.urandom(6).hex()}.part"
    try:
        with open(folder / memory, "wb") as out:
            for buffer in buffers:
                raw = buffer.raw()
                pad = -offset % ALIGN
                out.write(b"\0" * pad)
                offset += pad
                out.write(raw)
                table.append((offset, raw.nbytes))
                offset += raw.nbytes
        with open(part, "wb") as out:
            pickle.dump((memory, table, stream), out, protocol=5)
        os.replace(part, folder / f"{item}.pickle")
    except BaseException:  # a full disk, say: nothing half-written stays behind
        for left in (folder / memory, part):
            left.unlink(missing_ok=True)
        raise
    for older in folder.glob(f"{item}.*.bin"):  # an item made again: its earlier buffers (a reader that
        if older.name != memory:                 # mapped them keeps them until it lets go)
            older.unlink(missing_ok=True)


def _read(folder: Path, item: str):
    with open(folder / f"{item}.pickle", "rb") as f:
        memory_name, table, stream = pickle.load(f)
    with open(folder / memory_name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        memory = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b"")
    if any(offset + n > size for offset, n in table):
        raise ValueError(f"{memory_name} is shorter than its table")
    return pickle.loads(stream, buffers=[memory[offset:offset + n] for offset, n in table])
