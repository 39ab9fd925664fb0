"""What a process keeps of a store while its file is unchanged: one value under each name (the track
record's bars and stored picks, the re-screen's inputs), keyed by what it was made from and the store's
version, so any write to the store drops it. The live page asks for records and re-screens of the same
span again and again; a Dagster run (one process a day) gains nothing and keeps what its last call made.
"""

from __future__ import annotations

_KEPT: dict = {}  # name -> (key, value): the last of each, while the store file is unchanged


def kept(name: str, history, key: tuple, make):
    """make()'s value, kept under `name` with `key` and the store's version: the same key on an
    unchanged store gives it back (read-only: every caller that follows shares it), any other replaces
    it. A store without a version (none yet, Iceberg) keeps nothing."""
    version = history.version()
    if version is None:
        return make()
    key = (history.path, version, *key)
    held = _KEPT.get(name)
    if held is not None and held[0] == key:
        return held[1]
    value = make()
    _KEPT[name] = (key, value)  # one assignment: a thread beside reads the old pair or the new one
    return value


def forget() -> None:
    """Drop everything kept (the benchmarks time a cold start; a test compares against nothing kept)."""
    _KEPT.clear()
