"""Saved screens: several sets of scan settings, each ranked every evening on the same shared assets.

People keep several screens ("energy", "large caps", "swing"). A screens file names them; the assets
that depend on settings (filtered_universe, factors, ics, merit, ranked_top_n, changes) compute each
screen's rows, keyed by (date, screen), while bars, indicators, fundamentals, the regime, the models and
their forecasts are computed once a day for all of them. The file is YAML, a mapping of screen names to
scan settings; a field a screen leaves out takes the scan resource's value (the launchpad's `scan`
config, by default the built-in defaults):

    screens:
      default: {}                               # the defaults: style medium, top 25, ...
      energy: {sectors: [Energy, Utilities], top_n: 10}
      swing: {style: swing, min_dollar_volume: 5000000}

Where it lives: `TECHNIC_SCREENS`, else `~/.technic/screens.yaml` when that file exists. Without a
file there is one screen, "default", with the scan resource's settings. Every error (a file that does
not parse, an unknown field, a value out of range, an unknown screen asked for) names the file, the
screen and the field, and comes before anything runs.

The file is read as data, never run: YAML's safe loader (no Python tags), a key given twice is an error,
and aliases (`*name`) are refused. An alias repeats a whole node by reference, so nine lines of them
(the "billion laughs") stand for billions of values that the settings' validation would walk (2.4 GB,
then MemoryError); a screens file has no need of them. A file over MAX_BYTES is refused unread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from dagster import ConfigurableResource
from pydantic import Field, ValidationError

from technic_assets.config import ScanSettings
from technic_assets.errors import settings_error

DEFAULT_SCREEN = "default"
ADHOC_SCREEN = "adhoc"  # a one-off `technic scan --sector ...`, kept apart from the saved screens
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_BYTES = 1_000_000  # a screens file is a few hundred bytes; a million is thousands of screens


@dataclass(frozen=True)
class Screen:
    name: str
    settings: ScanSettings


class _Refused(yaml.composer.ComposerError):
    """Valid YAML that a screens file does not accept (an alias)."""


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error, not "the later wins":
    two screens of one name would silently drop one and overwrite its stored rows."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)

    def compose_node(self, parent, index):
        """Any node but an alias (`*name`): an alias is the billion-laughs bomb's only tool."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                None, None, f"an alias (*{event.anchor}) repeats another node; aliases are not "
                "accepted: write each screen's settings out in full", event.start_mark)
        return super().compose_node(parent, index)


def load_screens(path: str, base: ScanSettings) -> list[Screen]:
    """The screens of the file at `path`, each `base` with its own fields; an error naming the file,
    the screen and the field for anything wrong."""
    where = f"screens file {path}"
    try:
        with Path(path).expanduser().open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"{where}: larger than {MAX_BYTES:,} bytes; a screens file is a few lines of settings")
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader
    except _Refused as exc:
        mark = exc.problem_mark
        raise ValueError(f"{where}: line {mark.line + 1}, column {mark.column + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{where}: not valid YAML{at} ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"screens"} or not isinstance(doc["screens"], dict) or not doc["screens"]:
        raise ValueError(f"{where}: want a mapping `screens:` of screen names to settings, e.g. "
                         "`screens: {default: {}, energy: {sectors: [Energy]}}`")
    known = set(ScanSettings.model_fields)
    out = []
    for name, fields in doc["screens"].items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(f"{where}: screen name {name!r} must be lower-case letters, digits, - or _ "
                             "(up to 40, starting with a letter or digit)")
        if name == ADHOC_SCREEN:
            raise ValueError(f"{where}: screen name {name!r} is kept for one-off scans (`technic scan --sector ...`); "
                             "give the saved screen another name")
        fields = {} if fields is None else fields
        if not isinstance(fields, dict):
            raise ValueError(f"{where}, screen {name!r}: want a mapping of settings, got {fields!r}")
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"{where}, screen {name!r}: unknown field {', '.join(map(repr, unknown))}; the fields "
                             f"are {', '.join(sorted(known))}")
        try:
            settings = ScanSettings(**{**_fields(base), **fields})
        except ValidationError as exc:
            raise ValueError(f"{where}, screen {name!r}: {settings_error(exc)}") from None
        except ValueError as exc:  # a rule across fields (the price band)
            raise ValueError(f"{where}, screen {name!r}: {exc}") from None
        out.append(Screen(name, settings))
    return out


def _fields(settings: ScanSettings) -> dict:
    return {name: getattr(settings, name) for name in ScanSettings.model_fields}


class Screens(ConfigurableResource):
    """Which screens a run ranks: those of the screens file (`path`), or one screen (`name`) with the
    scan resource's settings when there is no file; `only` narrows a run to some of them."""

    path: str = Field(default="", description="The screens file (TECHNIC_SCREENS, else ~/.technic/screens.yaml when it exists); empty: one screen.")
    name: str = Field(default=DEFAULT_SCREEN, description="The screen's name when there is no file.")
    only: list[str] = Field(default=[], description="Rank only these screens of the file (empty: all).")

    def resolve(self, base: ScanSettings) -> list[Screen]:
        if not self.path:
            missing = [n for n in self.only if n != self.name]
            if missing:
                raise ValueError(f"no screen {', '.join(map(repr, missing))}: there is no screens file "
                                 f"(TECHNIC_SCREENS or ~/.technic/screens.yaml), so the only screen is {self.name!r}")
            return [Screen(self.name, base)]
        screens = load_screens(self.path, base)
        names = [s.name for s in screens]
        missing = [n for n in self.only if n not in names]
        if missing:
            raise ValueError(f"screens file {self.path}: no screen {', '.join(map(repr, missing))}; its screens are "
                             f"{', '.join(names)}")
        return [s for s in screens if not self.only or s.name in self.only]

    def primary(self, base: ScanSettings) -> str:
        """The saved screen the models are measured on (alpha_evaluation), whichever screens a run ranks (a
        one-off run too): "default" if the file has one, else its first; "default" without a file."""
        if not self.path:
            return DEFAULT_SCREEN
        names = [s.name for s in load_screens(self.path, base)]
        return DEFAULT_SCREEN if DEFAULT_SCREEN in names else names[0]
