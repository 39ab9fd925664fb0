"""storage.kept_files: values kept in files beside the store come back as they went in (every dtype the
re-screen's span holds), read-only where their memory was contiguous, only for the store version and
key they were made from; a damaged file is made again, and a place that cannot be written keeps
nothing, without an error."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from technic_assets.storage import History
from technic_assets.storage.kept_files import Shelf, discard

pytestmark = pytest.mark.unit


@dataclasses.dataclass
class Held:
    frame: pd.DataFrame
    strided: pd.DataFrame
    index: pd.DatetimeIndex
    codes: np.ndarray
    empty: np.ndarray
    text: dict


def value() -> Held:
    n = 1000
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "x": rng.standard_normal(n), "flag": rng.random(n) < 0.5, "n": np.arange(n),
        "sector": pd.Categorical(rng.choice(["Energy", "Utilities", None], n)),
        "symbol": np.array([f"S{k % 37}" for k in range(n)], dtype=object),
        "day": pd.date_range("2025-06-02", periods=n, freq="h"),
        "f32": rng.standard_normal(n).astype(np.float32)})
    frame.loc[::7, "x"] = np.nan
    return Held(frame, frame.iloc[::2], pd.DatetimeIndex(["2025-06-02", "2025-06-03"]), rng.integers(0, 9, (40, 3)),
                np.zeros(0), {"a": [1, 2], "b": None})


def written_store(path) -> History:
    History(str(path)).replace_dates("market_regime", pd.DataFrame(
        {"date": [pd.Timestamp("2025-06-02")], "risk": ["neutral"]}), [pd.Timestamp("2025-06-02")])
    return History(str(path))


def test_a_value_comes_back_equal_and_read_only(tmp_path):
    history = written_store(tmp_path / "store.duckdb")
    kept = value()
    Shelf.of(history, "test", ("k",)).put("v", kept)
    back = Shelf.of(history, "test", ("k",)).get("v")
    pd.testing.assert_frame_equal(back.frame, kept.frame)
    pd.testing.assert_frame_equal(back.strided, kept.strided)  # memory not contiguous: copied into the stream
    pd.testing.assert_index_equal(back.index, kept.index)
    np.testing.assert_array_equal(back.codes, kept.codes)
    assert back.empty.shape == (0,) and back.text == kept.text
    assert not back.codes.flags.writeable and not back.frame["x"].to_numpy().flags.writeable
    with pytest.raises(ValueError):
        back.codes[0, 0] = 1


def test_only_the_key_and_store_version_it_was_made_from_find_it(tmp_path):
    history = written_store(tmp_path / "store.duckdb")
    made = []
    shelf = Shelf.of(history, "test", ("k",))
    assert shelf.get_or_make("v", lambda: made.append(1) or np.arange(3)).tolist() == [0, 1, 2]
    again = Shelf.of(history, "test", ("k",)).get_or_make("v", lambda: made.append(1) or np.arange(3))
    assert again.tolist() == [0, 1, 2]
    assert made == [1]  # the second shelf read it back
    assert Shelf.of(history, "test", ("other",)).get("v") is None
    history.replace_dates("market_regime", pd.DataFrame({"date": [pd.Timestamp("2025-06-03")], "risk": ["risk_off"]}),
                          [pd.Timestamp("2025-06-03")])
    after = Shelf.of(history, "test", ("k",))
    assert after.get("v") is None  # a write to the store: another version, another shelf
    after.put("v", np.arange(4))
    folders = sorted(p.name for p in (tmp_path / "store.duckdb.kept").iterdir())
    assert folders == [after.folder.name]  # the older shelf of the name is gone
    discard(history)
    assert not (tmp_path / "store.duckdb.kept").exists()


def test_a_damaged_file_is_made_again(tmp_path):
    history = written_store(tmp_path / "store.duckdb")
    shelf = Shelf.of(history, "test", ("k",))
    shelf.put("v", value())
    memory, = shelf.folder.glob("v.*.bin")
    memory.write_bytes(memory.read_bytes()[:100])  # cut short
    assert shelf.get("v") is None
    assert shelf.get_or_make("v", lambda: np.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert Shelf.of(history, "test", ("k",)).get("v").tolist() == [0, 1, 2, 3, 4]
    assert len(list(shelf.folder.glob("v.*.bin"))) == 1  # the damaged buffers removed with it


def test_a_place_that_cannot_be_written_keeps_nothing(tmp_path):
    history = written_store(tmp_path / "store.duckdb")
    (tmp_path / "store.duckdb.kept").write_text("a file where the folder would be")
    shelf = Shelf.of(history, "test", ("k",))
    assert shelf.get_or_make("v", lambda: np.arange(2)).tolist() == [0, 1]
    assert shelf.get("v") is None
    assert Shelf.of(History(str(tmp_path / "none.duckdb")), "test", ("k",)).folder is None  # no store yet
