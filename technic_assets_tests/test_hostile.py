"""Hostile input: symbols and sector names that look like SQL or paths, absurd settings, and an audit
that every SQL statement binds its values (only identifiers are ever put into SQL text)."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from technic_assets.cli import main
from technic_assets.config import AlphaSettings
from technic_assets.definitions import build_definitions
from technic_assets.storage import History, db_path
from technic_assets_tests.graph import run_cli
from technic_assets_tests.snapshots import query, snapshot
from technic_assets_tests.test_dirty_data import DAY, sample

PACKAGE = Path(__file__).resolve().parents[1] / "technic_assets"
EVIL_SYMBOLS = ["X'); DROP TABLE technic.price_bars; --", "../../../tmp/technic_pwned", "A\"B;DELETE FROM x"]
EVIL_SECTORS = ["Energy'); DELETE FROM technic.universe; --", "/etc/passwd"]


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    bars = sample()
    plain = sorted(set(bars["symbol"]) - {"SPY", "QQQ", "HYG", "LQD", "SHY", "TLT", "IEF", "AAPL"})
    renamed = dict(zip(plain[:3], EVIL_SYMBOLS))
    bars["symbol"] = bars["symbol"].replace(renamed)
    bars.to_parquet(tmp / "bars.parquet")
    sectors = pd.DataFrame({"Symbol": [EVIL_SYMBOLS[0], plain[3], plain[4], "AAPL"],
                            "Sector": ["Financials", EVIL_SECTORS[0], EVIL_SECTORS[1], "Information Technology"]})
    sectors.to_csv(tmp / "sectors.csv", index=False)
    env = {"TECHNIC_DUCKDB_PATH": str(tmp / "store.duckdb"), "TECHNIC_START_DATE": "2019-01-02", "TECHNIC_ALPHA_WEIGHT": "0",
           "TECHNIC_MARKET": f"parquet:{tmp / 'bars.parquet'}", "TECHNIC_SECTOR_MAP": str(tmp / "sectors.csv")}
    run = run_cli(["scan", "--date", DAY, "--top", "5"], env, cwd=tmp)
    assert run.returncode == 0, run.stderr[-3000:]
    return tmp, plain



def test_sql_and_path_lookalikes_are_stored_verbatim_and_filtered_as_data(evil_run):
    tmp, plain = evil_run
    store = tmp / "store.duckdb"
    universe = query(store, "SELECT symbol, sector, valid_ticker FROM technic.universe WHERE date = ?", [DAY])
    evil = universe[universe["symbol"].isin(EVIL_SYMBOLS)]
    assert sorted(evil["symbol"]) == sorted(EVIL_SYMBOLS) and not evil["valid_ticker"].any()
    assert set(EVIL_SECTORS) <= set(universe["sector"])
    bars = query(store, "SELECT count(*) n FROM technic.price_bars WHERE symbol = ?", [EVIL_SYMBOLS[0]])
    assert bars["n"].iloc[0] > 200  # its bars were stored like any other; no table was dropped
    kept = query(store, "SELECT symbol, sector FROM technic.filtered_universe WHERE date = ?", [DAY])
    assert not set(kept["symbol"]) & set(EVIL_SYMBOLS)  # invalid tickers are never ranked
    assert not set(kept["sector"]) & set(EVIL_SECTORS)  # not GICS sectors: outside the default focus
    assert query(store, "SELECT count(*) n FROM technic.ranked_top_n WHERE date = ?", [DAY])["n"].iloc[0] == 5
    assert not (tmp / "technic_pwned").exists() and not Path("/tmp/technic_pwned").exists()


@pytest.mark.parametrize("argv, expected", [
    (["scan", "--top", "0"], "top_n=0: Input should be greater than or equal to 1"),
    (["scan", "--top", "1000000000"], "top_n=1000000000: Input should be less than or equal to 500"),
    (["scan", "--style", "x'; DROP TABLE t; --"], "style=\"x'; DROP TABLE t; --\": Input should be 'swing', 'medium' or 'position'"),
    (["scan", "--sector", "../../etc/passwd"], "sectors=['../../etc/passwd']: sector '../../etc/passwd' is not a sector; the sectors are Information Technology"),
    (["scan", "--date", "2025-13-45"], "is not a date"),
    (["scan", "--date", "1990-01-02"], "scan date 1990-01-02 needs 300 sessions of history"),  # and the range
    (["scan", "--date", "2025-06-07"], "not an NYSE trading day"),
])
def test_absurd_command_line_values_are_refused_by_name(argv, expected):
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert expected in str(refused.value)


@pytest.mark.parametrize("name, value, expected", [
    ("TECHNIC_SYNTHETIC_STOCKS", "abc", "TECHNIC_SYNTHETIC_STOCKS='abc' is not an integer"),
    ("TECHNIC_SYNTHETIC_STOCKS", "1000000000", "TECHNIC_SYNTHETIC_STOCKS=1000000000 is outside 50..100000"),
    ("TECHNIC_SYNTHETIC_STOCKS", "-5", "is outside 50..100000"),
    ("TECHNIC_MARKET", "s3://bucket'; DROP", "is not a known data source"),
])
def test_absurd_environment_values_are_refused_by_name(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        build_definitions()


def test_absurd_polygon_settings_are_refused_by_name(monkeypatch):
    monkeypatch.setenv("TECHNIC_MARKET", "polygon")
    monkeypatch.setenv("POLYGON_API_KEY", "k")
    monkeypatch.setenv("TECHNIC_HTTP_RETRY_SECONDS", "forever")
    with pytest.raises(ValueError, match="TECHNIC_HTTP_RETRY_SECONDS='forever' is not a number"):
        build_definitions()
    monkeypatch.setenv("TECHNIC_HTTP_RETRY_SECONDS", "60")
    monkeypatch.setenv("TECHNIC_POLYGON_RATE_PER_MINUTE", "-3")
    with pytest.raises(ValueError, match="TECHNIC_POLYGON_RATE_PER_MINUTE=-3 is outside"):
        build_definitions()


def test_absurd_alpha_settings_and_store_paths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="weight"):
        AlphaSettings(weight=5.0)
    with pytest.raises(ValueError, match="is a directory"):
        db_path(str(tmp_path))
    store = History(str(tmp_path / "store.duckdb"))
    with pytest.raises(ValueError, match="not a plain lower-case identifier"):
        store.read_span("price_bars; DROP TABLE technic.universe", pd.Timestamp(DAY), pd.Timestamp(DAY), ["date"])


# `where` is storage.duckdb_tables.slice_sql's clause (quoted column names and "?" placeholders); `self._reader` is
# read_parquet or read_csv_auto, whose path argument is bound; `casts` is storage.iceberg's quoted column names,
# each with a TIMESTAMP_* type from a fixed map; `ratio` and `cash` are a fixed column name or a constant;
# `order` is " ORDER BY date" or nothing (history.screen_span)
ALLOWED_IN_SQL = {"SCHEMA", "table(name)", "name", "names", "quoted(column)", "kind", "ratio", "cash", "order",
                  "table(table_slice.schema)", "table(schema)", "table(frame)", "where", "self._reader", "casts"}


def test_sql_text_only_ever_interpolates_identifiers():
    """Every execute/query call in the package: its SQL is a literal, or built only from f-strings whose
    holes are the schema, a checked table name, quoted column names, a column type read from DuckDB,
    or a fixed expression; no `+`, `%` or .format; never a value (values go in as bound parameters)."""
    seen = 0
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) in
                    ("execute", "executemany", "sql", "_query", "query")):
                continue
            built = [a for a in node.args if not isinstance(a, (ast.Name, ast.Constant, ast.List))]
            if not built:
                continue
            parts = [p for a in built for p in ast.walk(a)]
            assert not [p for p in parts if isinstance(p, ast.BinOp) or getattr(p, "attr", None) == "format"], \
                f"{path.name}:{node.lineno}: SQL built by {ast.unparse(built[0])[:80]}"
            holes = {ast.unparse(v.value) for p in parts if isinstance(p, ast.JoinedStr)
                     for v in p.values if isinstance(v, ast.FormattedValue)}
            assert holes <= ALLOWED_IN_SQL, f"{path.name}:{node.lineno}: {holes - ALLOWED_IN_SQL} put into SQL text"
            seen += 1
    assert seen > 20


def assert_store_unchanged(store, before: dict, when: str) -> None:
    after = snapshot(store)
    assert sorted(after) == sorted(before), when
    for name, rows in before.items():
        pd.testing.assert_frame_equal(after[name], rows, obj=f"{name} {when}")


@pytest.fixture
def file_store(tmp_path):
    """A store scanned for DAY from a CSV of the shared sample, the CSV's path, the sample and the env."""
    bars = sample()
    bars["date"] = pd.to_datetime(bars["date"]).dt.strftime("%Y-%m-%d")
    path = tmp_path / "bars.csv"
    bars.to_csv(path, index=False)
    env = {"TECHNIC_DUCKDB_PATH": str(tmp_path / "store.duckdb"), "TECHNIC_START_DATE": "2019-01-02",
           "TECHNIC_ALPHA_WEIGHT": "0", "TECHNIC_MARKET": f"parquet:{path}", "DAGSTER_HOME": ""}
    run = run_cli(["scan", "--date", DAY, "--top", "5", "--quiet"], env)
    assert run.returncode == 0, run.stderr[-3000:]
    return tmp_path / "store.duckdb", path, bars, env


def test_a_truncated_or_header_only_file_never_replaces_a_stored_day(file_store):
    """`--refresh` with a 1-row CSV cut the day's universe, indicators, factors, scores and top N to one
    row; a header-only CSV emptied the universe and then failed, the day half written. Both are refused
    before the day is touched, naming the file and both counts; the store stays as it was, table by table."""
    store, path, bars, env = file_store
    spans = bars.groupby("symbol")["date"].agg(["min", "max"])
    listed = int(((spans["min"] <= DAY) & (spans["max"] >= DAY)).sum())  # a symbol is listed first bar to last
    assert listed > 20
    before = snapshot(store)
    for kept, rows in (("one row", bars[bars["date"] == DAY].head(1)), ("the header", bars.head(0))):
        rows.to_csv(path, index=False)
        run = run_cli(["scan", "--date", DAY, "--top", "5", "--refresh", "--quiet"], env)
        assert run.returncode == 1, kept
        assert (f"error: ValueError: market file '{path}' has {len(rows)} listings for {DAY}, against {listed:,} in the store "
                f"({store}): fewer than 50%, so it is taken for truncated and the stored day is kept") in run.stderr, \
            run.stderr[-2000:]
        assert_store_unchanged(store, before, f"after a refresh from a file of {kept}")


def test_replace_bars_rereads_the_day_from_a_corrected_file_and_refuses_a_truncated_one(file_store, monkeypatch):
    """`--refresh` reads the day's bars from the store, so a corrected file could not repair them;
    `--replace-bars` reads them from the source again, with the same rule against a file that lost most
    of them; and a run that fails after writing part of the day puts every table back as it was."""
    store, path, bars, env = file_store
    stored = query(store, "SELECT symbol, close FROM technic.price_bars WHERE date = ?", [DAY]).set_index("symbol")
    on_day = bars["date"] == DAY
    corrected = bars.copy()
    corrected.loc[on_day & (corrected["symbol"] == "AAPL"), "close"] += 1.25
    want = float(bars.loc[on_day & (bars["symbol"] == "AAPL"), "close"].iloc[0]) + 1.25
    corrected.to_csv(path, index=False)

    assert run_cli(["scan", "--date", DAY, "--top", "5", "--refresh", "--quiet"], env).returncode == 0
    close = query(store, "SELECT close FROM technic.price_bars WHERE date = ? AND symbol = 'AAPL'", [DAY])["close"]
    assert close.tolist() == [stored.loc["AAPL", "close"]]  # --refresh keeps the stored bars

    # the day's bars of all but one symbol lost (each symbol still listed: it has a bar on the next session)
    later = bars[on_day].assign(date="2020-09-16")
    truncated = pd.concat([bars[~on_day], bars[on_day].head(1), later])
    truncated.to_csv(path, index=False)
    before = snapshot(store)
    run = run_cli(["scan", "--date", DAY, "--top", "5", "--replace-bars", "--quiet"], env)
    assert run.returncode == 1
    assert (f"error: ValueError: market file '{path}' has 1 bars for {DAY}, against {int(on_day.sum()):,} in the store") \
        in run.stderr, run.stderr[-2000:]
    assert_store_unchanged(store, before, "after --replace-bars from a file that lost the day's bars")

    # a failure after the bars, universe and indicators are written: every table's day put back
    corrected.to_csv(path, index=False)
    import technic_assets.assets.scores as scores

    def boom(*args, **kwargs):
        raise RuntimeError("the ranking broke")

    with monkeypatch.context() as mp:
        mp.setattr(scores, "rank_for_days", boom)
        run = run_cli(["scan", "--date", DAY, "--top", "5", "--replace-bars", "--quiet"], env)
    assert run.returncode == 1 and "the ranking broke" in run.stderr, run.stderr[-2000:]
    assert f"every table's rows of {DAY} are as they were before the run" in run.stderr
    assert_store_unchanged(store, before, "after a run that failed part-way")

    run = run_cli(["scan", "--date", DAY, "--top", "5", "--replace-bars", "--quiet"], env)
    assert run.returncode == 0, run.stderr[-2000:]
    close = query(store, "SELECT close FROM technic.price_bars WHERE date = ? AND symbol = 'AAPL'", [DAY])["close"]
    assert close.tolist() == [want]
    others = query(store, "SELECT symbol, close FROM technic.price_bars WHERE date = ? AND symbol <> 'AAPL'", [DAY])
    assert others.set_index("symbol")["close"].to_dict() == stored.drop(index="AAPL")["close"].to_dict()
