"""Saved screens: several settings ranked on one day's shared assets, each as its own scan would rank it."""

import pandas as pd
import pytest

from technic_assets.cli import main
from technic_assets.config import ScanSettings
from technic_assets.screens import Screens, load_screens
from technic_assets_tests.snapshots import query

DAY = "2025-06-02"
SCREENS = """
screens:
  default: {}
  energy: {sectors: [Energy, Utilities], top_n: 5}
"""
KEYS = ["rank", "symbol", "merit_score", "ics_score"]


@pytest.mark.parametrize("text, message", [
    ("screens: [\n", "not valid YAML at line 2"),
    ("other: 1\n", "want a mapping `screens:`"),
    ("screens:\n  energy: {sectorz: [Energy]}\n", "screen 'energy': unknown field 'sectorz'"),
    ("screens:\n  big: {top_n: 0}\n", "screen 'big': top_n=0: Input should be greater than or equal to 1"),
    ("screens:\n  band: {min_price: 10, max_price: 5}\n", "screen 'band': .*max_price=5.0 must be above min_price=10.0"),
    ("screens:\n  crypto: {sectors: [Crypto]}\n",
     "screen 'crypto': sectors=.'Crypto'.: sector 'Crypto' is not a sector; the sectors are Information"),
    ("screens:\n  Big Caps: {}\n", "screen name 'Big Caps' must be lower-case"),
    # the later would silently win, and its rows overwrite the earlier's stored result
    ("screens:\n  energy: {top_n: 5}\n  swing: {}\n  energy: {top_n: 9}\n", "'energy' is given twice \\(lines 2 and 4\\)"),
    ("screens:\n  adhoc: {top_n: 5}\n", "screen name 'adhoc' is kept for one-off scans"),
])
def test_a_bad_screens_file_is_named_with_the_screen_and_the_field(tmp_path, text, message):
    path = tmp_path / "screens.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"screens file {path}.*{message}"):
        load_screens(str(path), ScanSettings())


# The "billion laughs": each line holds nine of the line above, so `lol9` stands for 9**9 (387 million)
# strings while the file is under 800 bytes; the settings' validation walked them all (2.4 GB, MemoryError).
BOMB = ("screens:\n  default:\n    sectors: [&lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol],\n" + "".join(
    f"      &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}],\n" for i in range(1, 9)) + "    ]\n")


@pytest.mark.parametrize("text, line, column", [
    (BOMB, 4, 14),
    ("screens:\n  default: &base {top_n: 5}\n  energy: *base\n", 3, 11),  # a harmless alias: refused all the same
])
def test_a_screens_file_with_aliases_is_refused_before_they_are_expanded(tmp_path, monkeypatch, text, line, column):
    path = tmp_path / "screens.yaml"
    path.write_text(text)
    assert len(text) < 800
    expected = f"screens file {path}: line {line}, column {column}: an alias \\(\\*\\w+\\) repeats another node"
    with pytest.raises(ValueError, match=expected):
        load_screens(str(path), ScanSettings())
    monkeypatch.setenv("TECHNIC_SCREENS", str(path))  # the CLI: one line, before anything runs
    with pytest.raises(SystemExit, match=f"^error: {expected}.*write each screen's settings out in full$"):
        main(["scan", "--date", DAY, "--quiet"])


def test_a_screens_file_over_a_million_bytes_is_refused_unread(tmp_path):
    path = tmp_path / "screens.yaml"
    path.write_text("screens:\n  default: {}\n" + "#" * 1_000_000 + "\n")
    with pytest.raises(ValueError, match=f"screens file {path}: larger than 1,000,000 bytes"):
        load_screens(str(path), ScanSettings())


def test_screens_take_the_scan_settings_for_what_they_leave_out_and_unknown_names_are_listed(tmp_path):
    path = tmp_path / "screens.yaml"
    path.write_text(SCREENS)
    base = ScanSettings(style="swing", min_price=10.0)
    default, energy = Screens(path=str(path)).resolve(base)
    assert (default.name, default.settings.style, default.settings.top_n) == ("default", "swing", 25)
    assert (energy.settings.style, energy.settings.min_price, energy.settings.top_n) == ("swing", 10.0, 5)
    with pytest.raises(ValueError, match=f"screens file {path}: no screen 'nope'; its screens are default, energy"):
        Screens(path=str(path), only=["nope"]).resolve(base)
    with pytest.raises(ValueError, match="cannot be read"):
        Screens(path=str(tmp_path / "absent.yaml")).resolve(base)
    assert [s.name for s in Screens().resolve(base)] == ["default"]  # no file: one screen
    # the models are measured on a saved screen, never on a one-off's
    assert Screens(name="adhoc").primary(base) == "default"
    assert Screens(path=str(path), only=["energy"]).primary(base) == "default"


def test_every_saved_screen_is_ranked_on_shared_assets_each_as_its_own_scan_would(warm_store, tmp_path, monkeypatch,
                                                                                capsys):
    before = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    path = tmp_path / "screens.yaml"
    path.write_text(SCREENS)
    monkeypatch.setenv("TECHNIC_SCREENS", str(path))
    assert main(["scan", "--date", DAY, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"Technic top 25 for {DAY}, screen default" in out and "Also ranked: energy" in out
    stored = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY screen, rank", [DAY])
    energy = stored[stored["screen"] == "energy"].reset_index(drop=True)
    default = stored[stored["screen"] == "default"].reset_index(drop=True)
    assert len(energy) == 5 and set(energy["sector"]) <= {"Energy", "Utilities"}
    pd.testing.assert_frame_equal(default[KEYS], before[KEYS])  # the default screen as the day was scanned
    # the shared assets hold one row per symbol: forecasts, indicators are not per screen
    forecasts = query(warm_store, "SELECT symbol FROM technic.alpha_forecasts WHERE date = ?", [DAY])
    assert forecasts["symbol"].is_unique
    # the saved screen equals a one-off scan with the same settings (computed separately, kept as "adhoc")
    assert main(["scan", "--date", DAY, "--sector", "Energy", "--sector", "Utilities", "--top", "5", "--quiet"]) == 0
    adhoc = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? AND screen = 'adhoc' ORDER BY rank",
                  [DAY])
    pd.testing.assert_frame_equal(adhoc[KEYS], energy[KEYS])
    # one screen's run replaces its own rows and keeps the others'
    monkeypatch.setenv("TECHNIC_SCREENS", str(path))
    assert main(["scan", "--date", DAY, "--screen", "energy", "--quiet"]) == 0
    again = query(warm_store, "SELECT screen, count(*) AS n FROM technic.ranked_top_n WHERE date = ? GROUP BY screen "
                  "ORDER BY screen", [DAY])
    assert dict(zip(again["screen"], again["n"])) == {"adhoc": 5, "default": 25, "energy": 5}
    capsys.readouterr()
    assert main(["top", "--date", DAY, "--screen", "energy", "--format", "csv", "--columns", "symbol"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [f"{s},{DAY},energy,simulated" for s in energy["symbol"]]


def test_an_unknown_screen_or_a_broken_file_stops_before_anything_is_written(store_path, tmp_path, monkeypatch):
    path = tmp_path / "screens.yaml"
    path.write_text("screens:\n  energy: {sectorz: [Energy]}\n")
    monkeypatch.setenv("TECHNIC_SCREENS", str(path))
    with pytest.raises(SystemExit, match=f"screens file {path}, screen 'energy': unknown field 'sectorz'"):
        main(["scan", "--date", DAY, "--quiet"])
    path.write_text(SCREENS)
    with pytest.raises(SystemExit, match="no screen 'nope'; its screens are default, energy"):
        main(["scan", "--date", DAY, "--screen", "nope", "--quiet"])
    with pytest.raises(SystemExit, match="--screen ranks a saved screen as saved"):
        main(["scan", "--date", DAY, "--screen", "energy", "--top", "3"])
    monkeypatch.delenv("TECHNIC_SCREENS")  # no file: the one screen is "default", and no other is scanned as it
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="no screen 'no-such-screen': there is no screens file .* the only screen is 'default'"):
        main(["scan", "--date", DAY, "--screen", "no-such-screen", "--quiet"])
    assert not store_path.exists()


def test_a_run_with_a_broken_screens_file_fails_before_its_first_write(store_path, tmp_path):
    """The UI's and the schedule's runs: the first writers check the file, so nothing is stored."""
    from dagster import DagsterInstance, materialize

    from technic_assets_tests.graph import ASSETS, resources

    path = tmp_path / "screens.yaml"
    path.write_text("screens:\n  big: {top_n: 9999}\n")
    result = materialize(ASSETS, partition_key=DAY, instance=DagsterInstance.ephemeral(), raise_on_error=False,
                         resources={**resources(200), "screens": Screens(path=str(path))})
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures and all("screen 'big': top_n=9999" in str(e.step_failure_data.error.cause or e.step_failure_data.error)
                            for e in failures)
    assert not result.get_asset_materialization_events()
    assert not store_path.exists() or query(store_path, "SELECT count(*) AS n FROM information_schema.tables "
                                            "WHERE table_schema = 'technic'", [])["n"][0] == 0


def test_the_live_server_lists_the_saved_screens_and_serves_each(warm_store, tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    from technic_assets.live.engine import LiveEngine
    from technic_assets.live.server import create_app, saved_screens_of

    path = tmp_path / "screens.yaml"
    path.write_text(SCREENS)
    monkeypatch.setenv("TECHNIC_SCREENS", str(path))
    assert main(["scan", "--date", DAY, "--quiet"]) == 0
    stored = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY screen, rank", [DAY])
    engine = LiveEngine.load(warm_store)  # the primary screen's day
    with TestClient(create_app(engine, mode="off", screens=saved_screens_of(str(path))),
                    base_url="http://localhost") as client:
        listed = client.get("/api/screens").json()["screens"]
        assert [s["name"] for s in listed] == ["default", "energy"] and listed[1]["settings"]["top_n"] == 5
        for name in ("default", "energy"):
            rows = client.get(f"/api/top?screen={name}").json()["rows"]
            want = stored[stored["screen"] == name]
            assert [r["symbol"] for r in rows] == want["symbol"].tolist()
            assert [r["merit_score"] for r in rows] == pytest.approx(want["merit_score"].tolist(), rel=1e-9)
        bad = client.get("/api/top?screen=nope")
        assert bad.status_code == 400 and bad.json()["parameter"] == "screen" and "default, energy" in bad.json()["error"]
