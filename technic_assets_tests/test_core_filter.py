import numpy as np
import pandas as pd

from technic_assets.core.universe_filter import FilterSettings, is_valid_ticker, rule_detail, smart_filter

DAY = pd.Timestamp("2025-06-02")


def row(symbol, sector="Industrials", type_="stock", lev=False, close=50.0, adv=5e6, cv=0.1, n=300, last=DAY,
        unverified=False):
    return dict(symbol=symbol, name=symbol, type=type_, sector=sector, is_leveraged=lev, last_date=last,
                n_bars=n, close=close, adv_20=adv, price_cv_63=cv, split_unverified=unverified)


def split(rows):
    df = pd.DataFrame(rows)
    uni = df[["symbol", "name", "type", "sector", "is_leveraged"]]
    ind = df[["symbol", "last_date", "n_bars", "close", "adv_20", "price_cv_63", "split_unverified"]]
    return uni, ind


def test_ticker_rules():
    assert all(map(is_valid_ticker, ["A", "AAPL", "GOOGL", "BRK.B", "BF.B"]))
    assert not any(map(is_valid_ticker, ["AB1", "TOOLONG", "X-Y", "ABC.DEF", "ab", "", None, "Q!"]))


def test_every_reason_is_counted_once_in_order():
    uni, ind = split([
        row("GOOD"), row("BRK.B"),
        row("AB1"),                                   # invalid ticker
        row("TQQQ", type_="ETF", sector="ETF", lev=True),
        row("SPY", type_="ETF", sector="ETF"),
        row("HALT", last=DAY - pd.Timedelta(days=3)),
        row("SPLT", unverified=True),
        row("NEWCO", n=40),
        row("PENNY", close=4.99),
        row("THIN", adv=499_999.0),
        row("WILD", cv=0.51),
        row("UTIL", sector="Utilities"),
        row("BADP", close=1.0, adv=1.0),              # fails two rules: counted under the first
    ])
    kept, counts, sectors = smart_filter(uni, ind, DAY, FilterSettings(sectors=("Industrials",)))
    assert sorted(kept["symbol"]) == ["BRK.B", "GOOD"]
    assert counts == {"invalid_ticker": 1, "leveraged_or_inverse": 1, "etf": 1, "no_bar_today": 1,
                      "split_unverified": 1, "insufficient_history": 1, "price_below_min": 2, "price_above_max": 0,
                      "dollar_volume_below_min": 1, "volatility_insane": 1, "sector_not_selected": 1}
    assert sectors == ["Industrials"]


def test_default_keeps_the_eight_most_liquid_sectors():
    sectors = ["Information Technology", "Financials", "Health Care", "Consumer Discretionary",
               "Industrials", "Communication Services", "Energy", "Consumer Staples", "Materials",
               "Real Estate", "Utilities"]
    # liquidity falls with the position in the list: the last three are the least liquid
    uni, ind = split([row(f"S{chr(65 + i)}", sector=s, adv=1e9 / (i + 1)) for i, s in enumerate(sectors)])
    kept, counts, chosen = smart_filter(uni, ind, DAY, FilterSettings())
    assert chosen == sectors[:8]
    assert counts["sector_not_selected"] == 3
    assert len(kept) == 8


def test_nan_measures_never_pass():
    uni, ind = split([row("GOOD"), row("NOADV", adv=np.nan), row("NOCV", cv=np.nan)])
    kept, counts, _ = smart_filter(uni, ind, DAY, FilterSettings(sectors=("Industrials",)))
    assert kept["symbol"].tolist() == ["GOOD"]
    assert counts["dollar_volume_below_min"] == 1 and counts["volatility_insane"] == 1


def test_a_dropped_symbols_number_is_written_as_a_trader_reads_it():
    """Dollar volumes with thousands separators, not 3.668e+05; prices to four figures."""
    day = pd.Timestamp("2025-06-02")
    liquid = rule_detail("dollar_volume_below_min", {"adv_20": 366_812.4}, FilterSettings(), day)
    assert liquid["text"] == "dollar_volume_below_min: adv_20 366,812 < min_dollar_volume 500,000"
    cheap = rule_detail("price_below_min", {"close": 3.0581}, FilterSettings(), day)
    assert cheap["text"] == "price_below_min: close 3.058 < min_price 5"
