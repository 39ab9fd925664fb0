"""Where the served day's data came from, for the page to say: the universe's `source`, recorded with
the rows as market.factory.label names it ("simulated" for the built-in market, "file NAME", "polygon").
A page over the simulated market carries a banner saying so, so its made-up prices are never read as
real ones."""

from __future__ import annotations

import pandas as pd

from technic_assets.market.factory import label

SIMULATED = label("synthetic")


def data_origin(universe: pd.DataFrame) -> dict:
    """{"market": the source's label ("unknown" for a day stored before sources were recorded),
    "simulated": whether it is the built-in market}."""
    found = universe["source"].dropna() if "source" in universe else pd.Series(dtype=object)
    market = str(found.iloc[0]) if len(found) else "unknown"
    return {"market": market, "simulated": market == SIMULATED}
