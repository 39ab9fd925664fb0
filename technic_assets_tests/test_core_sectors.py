"""core.sectors: a sector as a person types it, the same on every surface (CLI, screens file, HTTP)."""

import pandas as pd
import pytest
from starlette.datastructures import QueryParams

from technic_assets.config import ScanSettings
from technic_assets.core.sectors import resolve_sector
from technic_assets.core.universe_filter import FilterSettings, drop_reasons
from technic_assets.errors import settings_error
from technic_assets.live.server import parse_screen
from technic_assets.screens import load_screens


@pytest.mark.parametrize("typed, sector", [
    ("tech", "Information Technology"), ("IT", "Information Technology"), ("health", "Health Care"),
    ("healthcare", "Health Care"), ("financials", "Financials"), ("fin", "Financials"),
    ("  consumer   STAPLES ", "Consumer Staples"), ("real-estate", "Real Estate"), ("reits", "Real Estate"),
    ("util", "Utilities"), ("comm", "Communication Services"), ("Unknown", "Unknown"), ("unk", "Unknown"),
    ("Energy", "Energy"),
])
def test_names_prefixes_and_aliases_resolve(typed, sector):
    assert resolve_sector(typed) == sector


def test_an_ambiguous_start_lists_what_it_could_be_and_an_unknown_word_lists_every_choice():
    with pytest.raises(ValueError) as refused:
        resolve_sector("con")
    assert str(refused.value) == "sector 'con' is ambiguous: it could be Consumer Discretionary, Consumer Staples"
    with pytest.raises(ValueError, match="ambiguous: it could be Utilities, Unknown"):
        resolve_sector("u")
    with pytest.raises(ValueError) as refused:
        resolve_sector("crypto")
    message = str(refused.value)
    assert "\n" not in message and message.startswith("sector 'crypto' is not a sector; the sectors are ")
    for name in ("Information Technology", "Real Estate", "Utilities", "Unknown"):
        assert name in message


def test_every_surface_resolves_through_the_settings(tmp_path):
    """The CLI's --sector and the backtest's re-screen build ScanSettings; so do the screens file and
    the HTTP parser: each gets `tech` as Information Technology, and the same one-line refusal."""
    assert ScanSettings(sectors=["tech", "Unknown"]).filter_settings().sectors == ("Information Technology", "Unknown")
    file = tmp_path / "screens.yaml"
    file.write_text("screens:\n  mine: {sectors: [health, reits]}\n")
    assert load_screens(str(file), ScanSettings())[0].settings.filter_settings().sectors == ("Health Care", "Real Estate")
    parsed = parse_screen(QueryParams("sector=fin&sector=staples"), ScanSettings())
    assert parsed.filter_settings().sectors == ("Financials", "Consumer Staples")
    with pytest.raises(ValueError) as refused:
        ScanSettings(sectors=["con"])
    assert settings_error(refused.value) == ("sectors=['con']: sector 'con' is ambiguous: it could be "
                                             "Consumer Discretionary, Consumer Staples")


def test_a_screen_of_unknown_keeps_only_the_names_without_a_sector():
    """An explicit list keeps only its sectors; "Unknown" in it keeps the names a source gave no sector."""
    day = pd.Timestamp("2025-06-02")
    rows = pd.DataFrame({"symbol": ["AAA", "BBB", "CCC"], "sector": ["Unknown", "Energy", "Unknown"],
                         "type": "stock", "is_leveraged": False, "last_date": day, "n_bars": 300, "close": 50.0,
                         "adv_20": 1e8, "price_cv_63": 0.1})
    _, reason, _ = drop_reasons(rows, day, FilterSettings(sectors=("Unknown",)))
    assert reason.isna().tolist() == [True, False, True]
    assert reason.iloc[1] == "sector_not_selected"
