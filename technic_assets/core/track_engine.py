"""The tranche engine of the track record: the daily value of equal-weight books held H sessions in H
staggered tranches, with costs. Pure numpy over a total-return index; track_record.py builds the inputs.

A book is a set of cohorts, each a list of symbol columns bought at the close of an entry session p.
At the first entry p0 every tranche buys the first cohort; at a later entry p tranche (p - p0) mod H
sells its book and buys the new cohort equal-weighted, then holds it untouched (its weights drift with
prices) until its next turn. H = 1 is a daily rebalance. An entry without a cohort leaves the due
tranche's book as it is (nothing new was published, so nothing is traded); a book without a first
cohort starts in cash (the CASH column, worth 1 for ever) and buys on each tranche's first turn.

Costs: `cost` (a fraction: 10 bps per side is 0.001) times the value each trade changes, sum |w_new -
w_old| of the tranche's value before the trade: buying from cash costs the whole value once, a name
kept across a roll pays only to bring its drifted weight back to equal, never a sale and a rebuy.
Paid out of the tranche at that close.

Values: nav[t] is the book at the close of t before that close's trades, nav[p0] = 1, so the return
of day t, nav[t] / nav[t-1] - 1, carries the costs of the trades at the close of t - 1 (the first
evaluated day pays for the first purchase). Returns compound; nothing is summed.

Work: the value at each tranche's next turn needs one gather per held name; the daily values either
gather each held name each day it is held (books of a few names) or accumulate the held units in a
dense session x symbol table (books of thousands, the filtered universe), whichever touches less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BookValues:
    nav: np.ndarray       # (costs, books, sessions first..end): the value before each close's trades
    turnover: np.ndarray  # same shape: one-sided value traded at that close over nav (0 where no trade)


def run_length_bounds(keys: np.ndarray) -> np.ndarray:
    """Start row of each run of equal rows in `keys` (a 1-D array or a 2-D stack of key columns)."""
    keys = np.atleast_2d(keys)
    return np.flatnonzero(np.r_[True, (keys[:, 1:] != keys[:, :-1]).any(axis=0)])


def book_values(growth: np.ndarray, book: np.ndarray, pos: np.ndarray, code: np.ndarray, books: int,
                first: int, end: int, horizon: int, costs: tuple[float, ...]) -> BookValues:
    """Daily values of `books` books from their cohorts (rows book, entry position, symbol column,
    sorted by all three; every named symbol has a bar at its entry) over sessions first..end, for each
    cost in `costs`. `growth` is sessions x (symbols + 1): the total-return index, its last column CASH."""
    cash = growth.shape[1] - 1
    cstart = run_length_bounds(np.vstack([book, pos]))
    csize = np.diff(np.r_[cstart, len(book)])
    cbook, cpos = book[cstart], pos[cstart]

    # The rolls: H per book at the first entry (its first cohort, or cash), then one per later cohort.
    first_cohort = np.full(books, -1)
    at_first = np.flatnonzero(cpos == first)
    first_cohort[cbook[at_first]] = at_first
    later = np.flatnonzero(cpos > first)
    r_book = np.r_[np.repeat(np.arange(books), horizon), cbook[later]]
    r_tranche = np.r_[np.tile(np.arange(horizon), books), (cpos[later] - first) % horizon]
    r_pos = np.r_[np.full(books * horizon, first), cpos[later]]
    r_cohort = np.r_[np.repeat(first_cohort, horizon), later]
    order = np.lexsort((r_pos, r_tranche, r_book))
    r_book, r_pos, r_cohort = r_book[order], r_pos[order], r_cohort[order]
    group = r_book * horizon + r_tranche[order]
    is_first = np.r_[True, group[1:] != group[:-1]]
    is_last = np.r_[is_first[1:], True]
    r_next = np.where(is_last, end, np.r_[r_pos[1:], end])  # the close this roll's book is sold at
    rolls = len(r_pos)

    # Each roll's names (cash: one CASH line), equal weights.
    n = np.where(r_cohort >= 0, csize[r_cohort], 1)
    e_roll = np.repeat(np.arange(rolls), n)
    within = np.arange(len(e_roll)) - np.repeat(np.cumsum(n) - n, n)
    src = np.repeat(np.where(r_cohort >= 0, cstart[r_cohort], 0), n) + within
    e_code = np.where(r_cohort[e_roll] >= 0, code[src], cash)
    e_weight = 1.0 / n[e_roll]
    start_price = growth[r_pos[e_roll], e_code]
    drift = e_weight * growth[r_next[e_roll], e_code] / start_price
    growth_to_next = np.bincount(e_roll, drift, minlength=rolls)  # the roll's value at its sale, per 1 bought

    # Value changed at each roll: new weights against the previous roll's drifted ones, cash excluded.
    sold = ~is_last[e_roll]
    keys = np.r_[e_roll * (cash + 1) + e_code, (e_roll[sold] + 1) * (cash + 1) + e_code[sold]]
    change = np.r_[e_weight, -drift[sold] / growth_to_next[e_roll[sold]]]
    order = np.argsort(keys, kind="stable")  # two sorted runs: one merge
    keys, change = keys[order], change[order]
    starts = run_length_bounds(keys)
    net, keys = np.add.reduceat(change, starts), keys[starts]
    names = keys % (cash + 1) != cash
    traded = np.bincount(keys[names] // (cash + 1), np.abs(net[names]), minlength=rolls)

    days = end - first + 1
    nav = np.zeros((len(costs), books, days))
    turnover = np.zeros_like(nav)
    units = np.empty((len(costs), len(e_roll)))
    for c, cost in enumerate(costs):
        keep = 1.0 - cost * traded
        before_prev = np.r_[1.0, growth_to_next[:-1]]
        factor = np.where(is_first, keep / horizon, before_prev * keep)
        after = pd.Series(factor).groupby(group).cumprod().to_numpy()  # value after each roll's trades
        before = np.where(is_first, 1.0 / horizon, np.r_[1.0, (after * growth_to_next)[:-1]])
        units[c] = after[e_roll] * e_weight / start_price
        value_traded = np.where(is_first, 0.0, before * traded) / 2  # one-sided, the first purchase aside
        turnover[c] = np.bincount(r_book * days + (r_pos - first), value_traded,
                                  minlength=books * days).reshape(books, days)

    held_days = (r_next - r_pos)[e_roll]
    if held_days.sum() * 3 < books * days * (cash + 1):
        _gathered(nav, growth, units, r_book[e_roll], r_pos[e_roll], e_code, held_days, first)
    else:
        _accumulated(nav, growth, units, r_book[e_roll], r_pos[e_roll], r_next[e_roll], e_code, first, end)
    nav[:, :, 0] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        turnover = np.where(turnover > 0, turnover / nav, 0.0)
    return BookValues(nav=nav, turnover=turnover)


def _gathered(nav, growth, units, e_book, e_pos, e_code, held_days, first):
    """nav[:, b, t - first] += units * growth[t, code] for each line's days t = pos+1 .. pos+held_days."""
    costs, books, days = nav.shape
    order = np.argsort(-held_days, kind="stable")
    e_book, e_pos, e_code, units = e_book[order], e_pos[order], e_code[order], units[:, order]
    flat = growth.ravel()
    base = e_pos * growth.shape[1] + e_code
    slot = e_book * days + (e_pos - first)
    active = np.searchsorted(-held_days[order], -np.arange(1, held_days.max() + 1), side="right")
    out = nav.reshape(costs, books * days)
    for h, count in enumerate(active, start=1):
        price = flat[base[:count] + h * growth.shape[1]]
        for c in range(costs):
            out[c] += np.bincount(slot[:count] + h, units[c, :count] * price, minlength=books * days)


def _accumulated(nav, growth, units, e_book, e_pos, e_next, e_code, first, end):
    """The same through a dense table per book: units held after each close (bought at pos, sold at
    next) as a running sum of the trades, times the next close's prices."""
    costs, books, days = nav.shape
    width = growth.shape[1]
    prices = growth[first + 1:end + 1]
    for b in range(books):
        mine = e_book == b
        bought = (e_pos[mine] - first) * width + e_code[mine]
        sold = (e_next[mine] - first) * width + e_code[mine]
        for c in range(costs):
            trades = (np.bincount(bought, units[c, mine], minlength=days * width)
                      - np.bincount(sold, units[c, mine], minlength=days * width))
            held = np.cumsum(trades.reshape(days, width), axis=0)
            nav[c, b, 1:] = np.einsum("ij,ij->i", held[:-1], prices)
