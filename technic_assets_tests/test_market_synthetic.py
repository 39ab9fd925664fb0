import numpy as np
import pandas as pd

from technic_assets.core.quality_checks import bars_sane, unique_keys
from technic_assets.market.synthetic import SyntheticMarket

DAY = pd.Timestamp("2025-06-02")


def test_same_seed_same_data_and_a_day_does_not_depend_on_the_range_asked():
    a = SyntheticMarket(seed=11, n_stocks=200)
    b = SyntheticMarket(seed=11, n_stocks=200)
    long = a.daily_bars(pd.Timestamp("2025-05-01"), DAY)
    short = b.daily_bars(DAY, DAY)
    pd.testing.assert_frame_equal(long[long["date"] == DAY].reset_index(drop=True), short.reset_index(drop=True))
    other = SyntheticMarket(seed=12, n_stocks=200).daily_bars(DAY, DAY)
    assert not np.allclose(other["close"].to_numpy()[:50], short["close"].to_numpy()[:50])


def test_the_market_has_what_a_scanner_must_handle():
    m = SyntheticMarket(seed=7, n_stocks=6000)
    listings = m.listings(DAY)
    symbols = set(listings["symbol"])
    assert {"SPY", "QQQ", "HYG", "LQD", "SHY", "TLT", "IEF", "VIXY", "BRKB.Z", "TQQQ", "SQQQ"} <= symbols
    assert 5600 <= len(listings) <= 6300
    assert listings["sector"].nunique() == 12  # 11 GICS sectors and ETF
    assert listings["is_leveraged"].sum() >= 20
    assert "AB1" in symbols and "TOOLONG" in symbols  # malformed tickers exist to be filtered
    later = m.listings(pd.Timestamp("2026-06-01"))
    assert set(later["symbol"]) - symbols and symbols - set(later["symbol"])  # IPOs and delistings


def test_made_up_tickers_cannot_pass_for_real_ones():
    """Every ticker the simulation makes up ends in ".Z" (a class no US listing uses; valid to the filter);
    the only real tickers are the reference funds the regime and the benchmark read by name, simulated as
    funds and named "(simulated)". Checked against the fund list the file sources use (us_etfs.csv) and
    the shared real file's symbols: before, 108 made-up stocks of 6,000 were real ETF tickers (VV, JOJO,
    TRTY among the 200 of the tests), which a file of these bars without a type column would type as funds."""
    from technic_assets.core.universe_filter import is_valid_ticker
    from technic_assets.market.known_etfs import listed_etfs
    from technic_assets.market.synthetic import _LEVERAGED, _MALFORMED, _PLAIN_ETFS, _SECTOR_ETFS
    from technic_assets_tests.conftest import shared_file

    listings = SyntheticMarket(seed=7, n_stocks=6000).listings(DAY)
    reference = set(_PLAIN_ETFS) | set(_SECTOR_ETFS) | set(_LEVERAGED)
    made_up = listings[~listings["symbol"].isin(reference | set(_MALFORMED))]
    assert listings["symbol"].is_unique and made_up["symbol"].str.endswith(".Z").all()
    assert made_up["symbol"].map(is_valid_ticker).all()
    real = set(pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"), columns=["symbol"])["symbol"])
    funds = set(listed_etfs().index)
    assert not set(made_up["symbol"]) & (real | funds)
    kept_real = listings[listings["symbol"].isin(reference)]
    assert (kept_real["type"] == "ETF").all() and kept_real["name"].str.endswith("(simulated)").all()
    assert listings.loc[listings["symbol"] == "SPY", "name"].item() == "S&P 500 ETF (simulated)"


def test_bars_are_sane_with_splits_and_halts():
    m = SyntheticMarket(seed=7, n_stocks=6000)
    bars = m.daily_bars(pd.Timestamp("2025-01-02"), pd.Timestamp("2025-12-31"))
    assert bars_sane(bars)[0] and unique_keys(bars)[0]
    assert (bars["split_ratio"] > 1).sum() >= 20 and (bars["split_ratio"] < 1).sum() >= 1
    per_day = bars.groupby("date").size()
    listed = m.listings(pd.Timestamp("2025-06-02"))
    assert per_day.loc["2025-06-02"] < len(listed)  # some names halted or not yet trading


def test_fundamentals_are_point_in_time():
    m = SyntheticMarket(seed=7, n_stocks=500)
    f = m.fundamentals(DAY)
    assert (f["published"] <= DAY).all()
    assert (f["period_end"] < f["published"]).all()
    assert ((DAY - f["published"]).dt.days < 160).all()  # the latest report, not an old one
    assert f["symbol"].is_unique


def test_planted_signal_only_uses_reports_published_before_the_day():
    m = SyntheticMarket(seed=7, n_stocks=500)
    truth = m.true_signal(DAY)
    f = m.fundamentals(DAY).set_index("symbol")
    stocks = truth[truth.index.isin(f.index)]
    assert stocks.abs().sum() > 0
    assert truth[~truth.index.isin(f.index)].abs().sum() == 0  # ETFs and names with no report: no signal


def test_dividends_leave_every_price_as_it_was():
    """The prices, volumes and splits of 2023 hash as they did before dividends were simulated
    (the hash of the bars of commit a049808, taken then), so no stored series and no benchmark moved.
    The made-up tickers have since gained ".Z" (and the share classes new names): given their old names
    back, the bars hash the same, so the new names moved nothing else either."""
    bars = SyntheticMarket(seed=7, n_stocks=300).daily_bars(pd.Timestamp("2023-01-03"), pd.Timestamp("2023-12-29"))
    assert len(bars) == 144162
    renamed = dict(zip(["BRKB.Z", "BFB.Z", "HEIA.Z", "LENB.Z", "MOGA.Z", "GEFB.Z", "CWENA.Z", "FOXAB.Z", "UHALB.Z", "BIOB.Z"],
                       ["BRK.B", "BF.B", "HEI.A", "LEN.B", "MOG.A", "GEF.B", "CWEN.A", "FOXA.B", "UHAL.B", "BIO.B"]))
    bars["symbol"] = bars["symbol"].map(lambda s: renamed.get(s, s.removesuffix(".Z")))
    assert int(pd.util.hash_pandas_object(bars.drop(columns="dividend"), index=False).sum() % 2**61) == 2197021027181450995


def test_dividends_are_quarterly_for_payers_monthly_for_bond_funds_and_plausible():
    m = SyntheticMarket(seed=7, n_stocks=1000)
    bars = m.daily_bars(pd.Timestamp("2024-01-02"), pd.Timestamp("2024-12-31"))
    for day in (pd.Timestamp("2024-06-03"), pd.Timestamp("2024-06-10")):  # a month's ex-dates whatever the range's end
        alone = m.daily_bars(day, day).set_index("symbol")["dividend"]
        within = bars[bars["date"] == day].set_index("symbol")["dividend"]
        pd.testing.assert_series_equal(alone, within)
    paid = bars[bars["dividend"] > 0]
    per_year = paid.groupby("symbol").size()
    assert per_year["SPY"] == 4 and per_year["XLU"] == 4 and per_year["HYG"] == 12 and per_year["TLT"] == 12
    assert not {"VIXY", "GLD", "TQQQ", "SQQQ"} & set(per_year.index)  # no yield, or leveraged
    quarterly = per_year.drop(["HYG", "LQD", "SHY", "TLT", "IEF", "AGG"])
    assert (bars["dividend"] >= 0).all() and quarterly.max() == 4 and quarterly.median() == 4  # IPOs, delistings: fewer
    # each payment is a yield of 0.5% to 5% a year on the previous close
    prev = bars.sort_values(["symbol", "date"]).groupby("symbol")["close"].shift()
    rate = (bars["dividend"] / prev)[bars["dividend"] > 0]
    times = paid["symbol"].map({s: 12 if s in {"HYG", "LQD", "SHY", "TLT", "IEF", "AGG"} else 4 for s in per_year.index})
    assert ((rate * times).dropna().between(0.005, 0.0501)).all()  # HYG 5%, rounded to 1/100 cent
    listings = m.listings(pd.Timestamp("2024-06-03")).set_index("symbol")
    stocks = listings.index[listings["type"] == "stock"]
    share = len(set(per_year.index) & set(stocks)) / len(stocks)
    assert 0.2 <= share <= 0.45  # 40% of the stocks of $5 or more
