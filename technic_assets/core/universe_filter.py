"""The smart filter: drop what no institution would touch, and say why for every symbol dropped.

Rules, applied in this order (a symbol is counted under the first rule it fails):
  invalid_ticker          not 1-5 capital letters, optionally a one-letter share class (BRK.B)
  leveraged_or_inverse    leveraged and inverse ETFs
  etf                     plain ETFs, unless include_etfs (value, quality and growth do not apply)
  no_bar_today            no bar on the scan date (halted, or not yet reported)
  split_unverified        a split in the lookback window whose ratio the price gap contradicts
                          (core.adjust): its adjusted history cannot be trusted
  insufficient_history    fewer than min_history bars in the lookback window
  price_below_min         close < min_price ($5)
  price_above_max         close > max_price (off by default)
  dollar_volume_below_min 20-day average dollar volume < min_dollar_volume ($500K)
  volatility_insane       coefficient of variation of close over 63 sessions > max_price_cv (50%)
  sector_not_selected     outside the chosen sectors: the user's list, or else the 8 GICS sectors
                          with the largest total 20-day dollar volume among the survivors;
                          that default focus keeps symbols whose sector is "Unknown" (a data file
                          without a sector map), a user's explicit list does not
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.core.days import Days
from technic_assets.core.frames import by_day, stack
from technic_assets.core.schema import GICS_SECTORS

VALID_TICKER = re.compile(r"^[A-Z]{1,5}(\.[A-Z])?$")
REASONS = (
    "invalid_ticker", "leveraged_or_inverse", "etf", "no_bar_today", "split_unverified", "insufficient_history",
    "price_below_min", "price_above_max", "dollar_volume_below_min", "volatility_insane",
    "sector_not_selected",
)
# the listing and indicator columns the rules read (drop_reasons)
FILTER_FACTS = ("symbol", "valid_ticker", "is_leveraged", "type", "last_date", "split_unverified", "n_bars", "close",
                "adv_20", "price_cv_63", "sector")


@dataclass(frozen=True)
class FilterSettings:
    min_price: float = 5.0
    max_price: float | None = None
    min_dollar_volume: float = 500_000.0
    max_price_cv: float = 0.5
    min_history: int = 200
    sectors: tuple[str, ...] = ()
    n_liquid_sectors: int = 8
    include_etfs: bool = False


def is_valid_ticker(symbol: object) -> bool:
    return isinstance(symbol, str) and VALID_TICKER.match(symbol) is not None


def smart_filter(
    universe: pd.DataFrame, indicators: pd.DataFrame, day: pd.Timestamp, settings: FilterSettings
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """Return (kept rows of universe+indicators, count dropped per reason, sectors kept)."""
    df, reason, chosen = drop_reasons(universe.merge(indicators, on="symbol", how="left"), day, settings)
    counts = {name: int((reason == name).sum()) for name in REASONS}
    kept = df[reason.isna()].reset_index(drop=True)
    return kept, counts, chosen


def drop_reasons(df: pd.DataFrame, day: pd.Timestamp, settings: FilterSettings, days: np.ndarray | None = None
                 ) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """The rules on listings merged with their indicators (one row per symbol): (df, the first rule
    each row fails or NA where it passes, sectors kept). A live server names the rule for a symbol.
    With `days` (each row's date; `day` unused), many days at once, each day's rules (the bar of its
    own day, its own most liquid sectors) as one call per day; the sectors kept are then the last day's."""
    reason = np.full(len(df), pd.NA, dtype=object)
    alive = np.ones(len(df), dtype=bool)  # no rule failed yet

    def drop(name: str, mask) -> None:
        if isinstance(mask, pd.Series):
            mask = mask.to_numpy(dtype=bool, na_value=False)
        hit = np.broadcast_to(np.asarray(mask, dtype=bool), alive.shape) & alive
        reason[hit] = name
        alive[hit] = False

    if "valid_ticker" in df:  # the universe asset's is_valid_ticker of each symbol: no regex per screen
        drop("invalid_ticker", ~df["valid_ticker"].to_numpy(dtype=bool, na_value=False))
    else:
        symbols = df["symbol"].astype(object)  # is_valid_ticker, vectorized: re.match on strings, False otherwise
        valid = symbols.str.match(VALID_TICKER.pattern) if len(df) else symbols.astype(bool)
        drop("invalid_ticker", ~valid.where(symbols.map(type) == str, False).astype(bool))
    drop("leveraged_or_inverse", df["is_leveraged"])
    drop("etf", (df["type"] == "ETF") & (not settings.include_etfs))
    when = pd.Timestamp(day) if days is None else pd.DatetimeIndex(days)
    drop("no_bar_today", df["last_date"].isna() | (pd.to_datetime(df["last_date"], cache=False) != when))
    if "split_unverified" in df:  # indicators stored before this rule lack the column
        drop("split_unverified", df["split_unverified"])
    drop("insufficient_history", df["n_bars"].fillna(0) < settings.min_history)
    drop("price_below_min", df["close"] < settings.min_price)
    if settings.max_price is not None:
        drop("price_above_max", df["close"] > settings.max_price)
    drop("dollar_volume_below_min", ~(df["adv_20"] >= settings.min_dollar_volume))
    drop("volatility_insane", ~(df["price_cv_63"] <= settings.max_price_cv))

    # the sectors coded once: every sector test below compares codes, not millions of strings
    sector_code, sectors = pd.factorize(df["sector"])

    def in_sectors(names) -> np.ndarray:
        return np.isin(sector_code, [k for k, name in enumerate(sectors) if name in set(names)])

    unknown_kept = in_sectors(["Unknown"]) & (not settings.sectors)
    if settings.sectors or days is None:
        chosen = list(settings.sectors) or _liquid_sectors(df, alive, settings.n_liquid_sectors)
        if settings.include_etfs:
            chosen = chosen + ["ETF"]
        drop("sector_not_selected", ~in_sectors(chosen) & ~unknown_kept)
    else:  # each day's own most liquid sectors, as (day, sector) codes
        day_code = Days(pd.Series(pd.DatetimeIndex(days))).code
        key = day_code * (len(sectors) + 1) + sector_code
        gics = alive & in_sectors(GICS_SECTORS)
        liquidity = df["adv_20"][gics].groupby(key[gics]).sum()
        # rank within the day, descending: _liquid_sectors' sort_values(ascending=False)
        top = liquidity.groupby(liquidity.index // (len(sectors) + 1)).rank(method="first", ascending=False)
        chosen_keys = liquidity.index[(top <= settings.n_liquid_sectors).to_numpy()].to_numpy()
        last = chosen_keys[chosen_keys // (len(sectors) + 1) == day_code.max()] if len(df) else chosen_keys
        chosen = [sectors[k % (len(sectors) + 1)] for k in
                  liquidity[last].sort_values(ascending=False).index] + (["ETF"] if settings.include_etfs else [])
        kept = np.isin(key, chosen_keys) | (settings.include_etfs & in_sectors(["ETF"]))
        drop("sector_not_selected", ~kept & ~unknown_kept)
    return df, pd.Series(reason, index=df.index, dtype="object"), chosen


def _liquid_sectors(df: pd.DataFrame, alive: np.ndarray, n: int) -> list[str]:
    """The n GICS sectors with the largest total 20-day dollar volume among the `alive` rows (the default
    focus)."""
    rows = alive & df["sector"].isin(GICS_SECTORS).to_numpy()
    liquidity = df["adv_20"][rows].groupby(df["sector"][rows]).sum()
    return liquidity.sort_values(ascending=False).index[:n].tolist()


class NothingPassed(ValueError):
    """The filter left no symbols on a day; `counts` says how many each rule dropped."""

    def __init__(self, day: pd.Timestamp, counts: dict[str, int], settings: FilterSettings):
        self.day, self.counts = day, counts
        super().__init__(f"the filter left no symbols on {day:%Y-%m-%d} (settings: {settings}); dropped per "
                         "reason: " + ", ".join(f"{k}={v}" for k, v in counts.items() if v))


KEPT_COLUMNS = ["symbol", "name", "type", "sector", "exchange", "close", "adv_20", "n_bars"]


def filter_days(universe: pd.DataFrame, indicators: pd.DataFrame, days, settings: FilterSettings
                ) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """smart_filter on each day's listings and indicators: (the kept rows, KEPT_COLUMNS with `date`;
    counts per reason over all days; the last day's sectors kept). NothingPassed if a day keeps none."""
    listed, computed = by_day(universe, days), by_day(indicators, days)
    kept, totals, sectors = {}, dict.fromkeys(REASONS, 0), []
    for day in days:
        rows, counts, sectors = smart_filter(listed[day].drop(columns="date"), computed[day].drop(columns="date"),
                                             day, settings)
        if rows.empty:
            raise NothingPassed(day, counts, settings)
        totals = {r: totals[r] + counts[r] for r in REASONS}
        kept[day] = rows[KEPT_COLUMNS]
    return stack(kept), totals, sectors


# rule -> (the fact it reads, the setting that bounds it, how the fact fails it): what `rule_detail` says
RULE_BOUNDS = {
    "insufficient_history": ("n_bars", "min_history", "<"),
    "price_below_min": ("close", "min_price", "<"),
    "price_above_max": ("close", "max_price", ">"),
    "dollar_volume_below_min": ("adv_20", "min_dollar_volume", "<"),
    "volatility_insane": ("price_cv_63", "max_price_cv", ">"),
}
RULE_WORDS = {
    "invalid_ticker": "the symbol is not a plain ticker (1-5 capital letters, optionally a one-letter class)",
    "leveraged_or_inverse": "a leveraged or inverse fund",
    "etf": "an ETF, and ETFs are left out (include_etfs off)",
    "split_unverified": "a split in the lookback window whose ratio the price gap contradicts",
}


def _number(x) -> str:
    """A fact or a bound as a trader reads it: 366,812 (no 3.668e+05), 3.058, 0.62."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def rule_detail(rule: str, facts: dict, settings: FilterSettings, day: pd.Timestamp,
                sectors_kept: list[str] = ()) -> dict:
    """Why `rule` dropped a symbol, in numbers: {rule, value, bound, text}, the symbol's fact (from
    `facts`: its listing and indicators) against the setting it failed, e.g. close 3.2 < min_price 5;
    value and bound None where the rule has no number (an ETF, a sector)."""
    value = bound = None
    if rule in RULE_BOUNDS:
        fact, setting, sign = RULE_BOUNDS[rule]
        value, bound = facts.get(fact), getattr(settings, setting)
        shown = "missing" if value is None or (isinstance(value, float) and not np.isfinite(value)) else _number(value)
        text = (f"{fact} {shown} {sign} {setting} {_number(bound)}" if shown != "missing"
                else f"{fact} missing ({setting} {_number(bound)})")
    elif rule == "no_bar_today":
        value, bound = facts.get("last_date"), f"{pd.Timestamp(day):%Y-%m-%d}"
        text = f"last bar {value or 'none'}, not the scan day {bound}"
    elif rule == "sector_not_selected":
        value, bound = facts.get("sector"), list(sectors_kept)
        text = f"sector {value} is not among those kept ({', '.join(bound) or 'none'})"
    else:
        text = RULE_WORDS.get(rule, rule)
    return {"rule": rule, "value": value, "bound": bound, "text": f"{rule}: {text}"}
