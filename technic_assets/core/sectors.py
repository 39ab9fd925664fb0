"""A sector as a person types it, made the GICS name the data holds: `tech` is Information Technology.

One function for every surface that takes a sector (the CLI's --sector, the screens file, the HTTP
`sector=` parameter, the launchpad): ScanSettings runs it on each value, so all of them accept the same
words and refuse the same ones. Rules, in order, on the text lowercased with `_`, `-` and runs of spaces
made one space and `&` read as `and`:
  1. a sector's name or an alias (below) exactly;
  2. else the start of exactly one sector's name or alias: `cons` is ambiguous (Consumer Discretionary,
     Consumer Staples), `util` is Utilities;
  3. else an error in one line naming the text and listing the choices.
"Unknown" is a choice: the names a source gives no sector (a data file without a sector map).
"""

from __future__ import annotations

import re

from technic_assets.core.schema import GICS_SECTORS

UNKNOWN_SECTOR = "Unknown"
SECTOR_CHOICES = (*GICS_SECTORS, UNKNOWN_SECTOR)

# What traders and data vendors commonly call the sectors (GICS's older and shorter names included).
ALIASES = {
    "tech": "Information Technology", "technology": "Information Technology", "it": "Information Technology",
    "info tech": "Information Technology",
    "healthcare": "Health Care", "health": "Health Care",
    "financial": "Financials", "finance": "Financials", "banks": "Financials",
    "discretionary": "Consumer Discretionary", "consumer cyclical": "Consumer Discretionary",
    "staples": "Consumer Staples", "consumer defensive": "Consumer Staples",
    "communications": "Communication Services", "telecom": "Communication Services",
    "telecommunication services": "Communication Services", "media": "Communication Services",
    "industrial": "Industrials", "basic materials": "Materials", "material": "Materials",
    "reit": "Real Estate", "reits": "Real Estate", "realestate": "Real Estate",
    "utility": "Utilities", "oil and gas": "Energy",
    "none": UNKNOWN_SECTOR, "no sector": UNKNOWN_SECTOR,
}


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", text.replace("&", " and "))).strip().lower()


WORDS = {**{_plain(name): name for name in SECTOR_CHOICES}, **{_plain(a): name for a, name in ALIASES.items()}}


def resolve_sector(text: object) -> str:
    """The sector `text` names (rules in the module's docstring), or ValueError in one line."""
    if not isinstance(text, str):
        text = getattr(text, "value", text)  # a Sector enum member passes as its name
    if not isinstance(text, str):
        raise ValueError(f"sector {text!r} is not text; the sectors are {', '.join(SECTOR_CHOICES)}")
    plain = _plain(text)
    if plain in WORDS:
        return WORDS[plain]
    found = sorted({name for word, name in WORDS.items() if plain and word.startswith(plain)},
                   key=SECTOR_CHOICES.index)
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"sector {text!r} is ambiguous: it could be {', '.join(found)}")
    raise ValueError(f"sector {text!r} is not a sector; the sectors are {', '.join(SECTOR_CHOICES)} "
                     f"(a unique start of one, or a common name such as tech, health, financials, staples, reits)")
