"""What changed in the top N since the previous session, on lists small enough to check by hand."""

import numpy as np
import pandas as pd

from technic_assets.core.changes import changes_between, summary


def top(*rows):
    return pd.DataFrame(rows, columns=["rank", "symbol", "merit_score"])


def test_entries_exits_and_moves_with_scores_from_the_whole_universe():
    today = top((1, "AAA", 90.0), (2, "BBB", 85.0), (3, "CCC", 80.0))
    previous = top((1, "BBB", 88.0), (2, "AAA", 86.0), (3, "DDD", 84.0))
    today_scores = pd.DataFrame({"symbol": ["DDD", "EEE"], "merit_score": [70.0, 10.0]})
    previous_scores = pd.DataFrame({"symbol": ["CCC"], "merit_score": [60.0]})
    got = changes_between(today, previous, today_scores, previous_scores).set_index("symbol")
    assert list(got.index) == ["CCC", "AAA", "BBB", "DDD"]  # entries, up, down, exits
    assert got.loc["CCC", "change"] == "entry" and np.isnan(got.loc["CCC", "previous_rank"])
    assert got.loc["CCC", "score_change"] == 20.0  # climbed from 60 (yesterday's whole-universe score)
    assert got.loc["AAA", ["change", "rank_move", "score_change"]].tolist() == ["up", 1.0, 4.0]
    assert got.loc["BBB", ["change", "rank_move", "score_change"]].tolist() == ["down", -1.0, -3.0]
    assert got.loc["DDD", "change"] == "exit" and np.isnan(got.loc["DDD", "rank"])
    assert got.loc["DDD", "score_change"] == -14.0  # fell to 70 today
    assert summary(got.reset_index()) == "1 entry (CCC), 1 exit (DDD), biggest move AAA +1"


def test_the_same_list_says_so_and_an_unscored_exit_has_no_score_change():
    same = top((1, "AAA", 90.0), (2, "BBB", 85.0))
    got = changes_between(same, same)
    assert (got["change"] == "same").all() and (got["score_change"] == 0.0).all()
    assert summary(got) == "the same list in the same order"
    gone = changes_between(top((1, "AAA", 90.0)), top((1, "ZZZ", 50.0)))
    assert gone.set_index("symbol").loc["ZZZ", "change"] == "exit"
    assert np.isnan(gone.set_index("symbol").loc["ZZZ", "score_change"])  # not scored today: unknown
