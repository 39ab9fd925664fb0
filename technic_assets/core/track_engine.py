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

Work: each roll's value path (per 1 bought, h sessions on) does not depend on costs, so it is computed
once: by gathering each held name's price each day it is held (books of a few names), or, where that
touches more, as a dense rolls x symbols table of units dotted with each day's prices (the filtered
universe; its trades then are worked out on such tables too, each sum taken in the order the lines
would take it, so both ways give the same numbers). Costs then only scale each roll's value: every
cost level costs a few bincounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BookValues:
    nav: np.ndarray       # (costs, books, sessions first..end): the value before each close's trades
    turnover: np.ndarray  # same shape: one-sided value traded at that close over nav (0 where no trade)


def run_length_bounds(*keys: np.ndarray) -> np.ndarray:
    """Start row of each run of rows equal in every one of `keys` (1-D arrays of one length)."""
    if not len(keys[0]):
        return np.zeros(0, dtype=int)
    changed = np.zeros(len(keys[0]) - 1, dtype=bool)
    for key in keys:
        changed |= key[1:] != key[:-1]
    return np.flatnonzero(np.r_[True, changed])


def book_values(growth: np.ndarray, book: np.ndarray, pos: np.ndarray, code: np.ndarray, books: int,
                first: int, end: int, horizon: int, costs: tuple[float, ...]) -> BookValues:
    """Daily values of `books` books from their cohorts (rows book, entry position, symbol column,
    sorted by all three; every named symbol has a bar at its entry) over sessions first..end, for each
    cost in `costs`. `growth` is sessions x (symbols + 1): the total-return index, its last column CASH."""
    cash = growth.shape[1] - 1
    cstart = run_length_bounds(book, pos)
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

    held = r_next - r_pos
    n = np.r_[csize, 1][r_cohort]  # each roll's names (cohort -1, cash: one line, the CASH column)
    rolled = _dense_rolls if (n * held).sum() >= rolls * (cash + 1) else _sparse_rolls  # the universe: dense
    path, traded = rolled(growth, code, cstart, csize, r_cohort, r_pos, r_next, is_last)
    growth_to_next = path[np.arange(rolls), held - 1]  # the roll's value at its sale, per 1 bought

    # Costs scale each roll's value; the paths do not change with them.
    days = end - first + 1
    pair_roll = np.repeat(np.arange(rolls), held)
    pair_step = np.arange(len(pair_roll)) - np.repeat(np.cumsum(held) - held, held)
    pair_slot = r_book[pair_roll] * days + (r_pos[pair_roll] - first) + pair_step + 1
    pair_path = path[pair_roll, pair_step]
    nav = np.zeros((len(costs), books, days))
    turnover = np.zeros_like(nav)
    for c, cost in enumerate(costs):
        keep = 1.0 - cost * traded
        factor = np.where(is_first, keep / horizon, np.r_[1.0, growth_to_next[:-1]] * keep)
        after = pd.Series(factor).groupby(group).cumprod().to_numpy()  # value after each roll's trades
        before = np.where(is_first, 1.0 / horizon, np.r_[1.0, (after * growth_to_next)[:-1]])
        nav[c] = np.bincount(pair_slot, after[pair_roll] * pair_path, minlength=books * days).reshape(books, days)
        value_traded = np.where(is_first, 0.0, before * traded) / 2  # one-sided, the first purchase aside
        turnover[c] = np.bincount(r_book * days + (r_pos - first), value_traded,
                                  minlength=books * days).reshape(books, days)
    nav[:, :, 0] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        turnover = np.where(turnover > 0, turnover / nav, 0.0)
    return BookValues(nav=nav, turnover=turnover)


def _sparse_rolls(growth, code, cstart, csize, r_cohort, r_pos, r_next, is_last):
    """Each roll's value path (per 1 bought, h sessions on: rolls x max(held), NaN after its sale) and
    the value its purchase changes (sum |w_new - w_old| before the trade), over a line per name held:
    the books of a few names. The prices are read roll by roll in the order of their days (the longest
    held first), so that lines read side by side lie side by side (the random books' 50 rolls of a
    day); each roll's lines stay in their order, and so does every sum."""
    rolls, cash = len(r_pos), growth.shape[1] - 1
    n = np.r_[csize, 1][r_cohort]
    e_roll = np.repeat(np.arange(rolls), n)
    within = np.arange(len(e_roll)) - np.repeat(np.cumsum(n) - n, n)
    e_code = np.r_[code, cash][np.repeat(np.r_[cstart, len(code)][r_cohort], n) + within]
    e_weight = 1.0 / n[e_roll]
    held = r_next - r_pos
    by_day = np.lexsort((r_pos, -held))
    size = n[by_day]
    order = np.repeat((np.cumsum(n) - n)[by_day] - (np.cumsum(size) - size), size) + np.arange(len(e_roll))
    width, flat = cash + 1, growth.ravel()
    roll, line_code = e_roll[order], e_code[order]
    base = r_pos[roll] * width + line_code
    bought = flat[base]
    path = _paths(flat, width, roll, base, e_weight[order] / bought, held)
    growth_to_next = path[np.arange(rolls), held - 1]

    # Value changed at each roll: sum |w_new - w_old| = sum w_new + sum w_old - 2 sum over kept names of
    # min(w_new, w_old), cash on neither side; w_old the previous roll's weights drifted to this close.
    drift = np.empty(len(e_roll))
    drift[order] = e_weight[order] * flat[r_next[roll] * width + line_code] / bought
    names = e_code != cash
    sold = np.flatnonzero(~is_last[e_roll] & names)
    s_roll, s_code = e_roll[sold], e_code[sold]
    drifted = drift[sold]
    drifted /= growth_to_next[s_roll]
    n_roll, n_weight = e_roll[names], e_weight[names]
    new_keys, old_keys = n_roll * width + e_code[names], (s_roll + 1) * width + s_code
    at = np.minimum(np.searchsorted(new_keys, old_keys), max(len(new_keys) - 1, 0))
    kept_weight = np.where(new_keys[at] == old_keys, n_weight[at], 0.0) if len(new_keys) else 0.0 * drifted
    traded = (np.bincount(n_roll, n_weight, minlength=rolls)
              + np.bincount(s_roll + 1, drifted - 2 * np.minimum(drifted, kept_weight), minlength=rolls)[:rolls])
    return path, traded


def _dense_rolls(growth, code, cstart, csize, r_cohort, r_pos, r_next, is_last):
    """_sparse_rolls over rolls x symbols tables (the universe's book, where a line per name held
    would touch more): the same operations on the same numbers, each sum taken in the order of the
    columns as the lines' bincounts take it, so the same values. Four tables in all, each written
    over again rather than a new one made for each step (fresh memory costs more than the arithmetic)."""
    rolls, width = len(r_pos), growth.shape[1]
    cash = width - 1
    cohorts = np.zeros((len(cstart) + 1, width))  # each cohort's weights, the last row cash's
    cohorts.ravel()[np.repeat(np.arange(len(cstart)) * width, csize) + code] = np.repeat(1.0 / csize, csize)
    cohorts[-1, cash] = 1.0
    weight = cohorts[r_cohort]
    del cohorts
    held_names = weight != 0
    bought = np.take(growth, r_pos, axis=0)
    units = np.divide(weight, bought, out=np.zeros(weight.shape), where=held_names)
    held = r_next - r_pos
    path = np.full((rolls, held.max()), np.nan)
    prices = np.empty((rolls, width))  # a day's prices of each roll, then the other steps' work
    for h in range(1, held.max() + 1):
        rows = np.flatnonzero(held >= h)
        w = units if len(rows) == rolls else units[rows]
        day = np.take(growth, r_pos[rows] + h, axis=0, out=prices[:len(rows)], mode="clip")  # (in range: unbuffered)
        path[rows, h - 1] = np.einsum("ij,ij->i", w, day)
    growth_to_next = path[np.arange(rolls), held - 1]

    sold = held_names & ~is_last[:, None]
    sold[:, cash] = False
    drifted = units  # its last use was above
    drifted.fill(0.0)
    np.multiply(weight, np.take(growth, r_next, axis=0, out=prices, mode="clip"), out=drifted, where=sold)
    np.divide(drifted, bought, out=drifted, where=sold)
    np.divide(drifted, growth_to_next[:, None], out=drifted, where=sold)
    change, kept = drifted[:-1], prices[:-1]
    np.minimum(change, weight[1:], out=kept)
    kept *= 2
    change -= kept
    # sum w_new: n names of 1 / n each (cash: none), added one by one as the lines' bincount adds them
    size, of_size = np.unique(np.r_[csize, 0][r_cohort], return_inverse=True)
    traded = np.array([np.cumsum(np.full(k, 1.0 / k))[-1] if k else 0.0 for k in size])[of_size]
    if cash:
        traded[1:] += np.cumsum(change[:, :cash], axis=1, out=prices[:-1, :cash])[:, -1]
    return path, traded


def _paths(flat, width, roll, base, units, held):
    """rolls x max(held): the value of each roll h + 1 sessions after its purchase, per 1 bought (NaN
    after its sale), from its lines (`roll`, the cell `base` of the price each was bought at, `units`),
    the rolls held longest first: each day's sum is over the first lines, those still held."""
    rolls = len(held)
    path = np.full((rolls, held.max()), np.nan)
    active = np.searchsorted(-held[roll], -np.arange(1, held.max() + 1), side="right")
    for h, count in enumerate(active, start=1):
        value = np.bincount(roll[:count], units[:count] * flat[base[:count] + h * width], minlength=rolls)
        path[held >= h, h - 1] = value[held >= h]
    return path
