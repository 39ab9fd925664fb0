"""The top N and stored tables for other tools: table, CSV, JSON or Markdown, to a terminal or a file.

Text tables do not survive a pipe (sectors have spaces, reasons have commas), so every format but
`table` is made for a program: CSV and JSON carry the date and the source on every row or at the top,
and a file is written whole or not at all (a temporary beside it, renamed into place).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("table", "csv", "json", "markdown")
EXPORT_FORMATS = ("parquet", "csv")
# What a trader reads first (the name, the day's move) before the scores and the reasons; MERIT's
# percentile of the day and raw blend beside it tell apart picks whose 0-100 scores all round to 99.
DEFAULT_COLUMNS = ["rank", "symbol", "name", "sector", "close", "change_pct", "volume", "rel_volume", "merit_score",
                   "merit_pct", "merit_raw", "ics_score", "alpha_5d", "rsi_14", "roc_63", "reasons"]
NAME_WIDTH = 24  # a text table's names are cut to this (a program's formats keep them whole)
CHANGE_COLUMNS = ["change", "symbol", "rank", "previous_rank", "rank_move", "merit_score", "score_change"]
# The alpha forecasts are z-scores (a forecast excess return in units of the day's cross-sectional
# deviation), not % returns: every format says so, in the column's name and, in JSON, in `units`.
Z_COLUMNS = {"alpha_5d": "alpha_5d_z", "alpha_10d": "alpha_10d_z"}
UNITS = {"alpha_5d_z": "z-score: the 5-session excess-return forecast in units of the day's cross-sectional deviation",
         "alpha_10d_z": "z-score: the 10-session excess-return forecast in units of the day's cross-sectional deviation"}


SIMULATED = "simulated"  # market.factory.label of the built-in market, as stored with each day's rows


def titled(title: str, source: str) -> str:
    """A human format's title, saying so when the data is the built-in market's: made-up prices and
    names must never pass for a real market's."""
    return f"{title} -- SIMULATED DATA (the built-in market, not real prices)" if source == SIMULATED else title


def pick_columns(frame: pd.DataFrame, wanted: list[str] | None, default: list[str]) -> pd.DataFrame:
    """`wanted` columns in that order (default: `default`); an error names any that does not exist."""
    columns = wanted or [c for c in default if c in frame.columns]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise ValueError(f"--columns: no column {', '.join(map(repr, unknown))}; the columns are "
                         f"{', '.join(frame.columns)}")
    return frame[columns]


def render(frame: pd.DataFrame, fmt: str, *, title: str, day: str, source: str, screen: str = "default") -> str:
    """`frame` as text in `fmt`; `title` heads the human formats, `day`, `source` and `screen` label the others."""
    frame = frame.rename(columns=Z_COLUMNS)
    title = titled(title, source)
    if fmt == "table":
        return f"\n{title}\n\n{_pretty(frame, cut_names=True).to_string(index=False)}\n"
    if fmt == "markdown":
        head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
        body = "".join("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |\n"
                       for row in _pretty(frame).itertuples(index=False))
        return f"## {title}\n\n{head}{body}"
    if fmt == "csv":
        return spreadsheet_safe(frame.assign(date=day, screen=screen, source=source)).to_csv(index=False)
    if fmt == "json":
        rows = json.loads(frame.to_json(orient="records", date_format="iso", double_precision=10))
        units = {c: UNITS[c] for c in frame.columns if c in UNITS}
        return json.dumps({"date": day, "screen": screen, "source": source, "title": title,
                           **({"units": units} if units else {}), "rows": rows}, indent=1) + "\n"
    raise ValueError(f"--format {fmt!r}: want one of {', '.join(FORMATS)}")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (starting = + - @, a tab or a carriage return: a
    name in the data such as `=HYPERLINK(...)`) with a leading apostrophe, as OWASP's CSV-injection
    advice says; numbers are left as they are (a negative score is a number, not a formula)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v)
    return out


def _pretty(frame: pd.DataFrame, cut_names: bool = False) -> pd.DataFrame:
    view = frame.copy()
    for col in view.columns:
        if col in UNITS:
            view[col] = view[col].map(lambda v: f"{v:+.2f}" if pd.notna(v) else "-")
        elif col in ("rank", "previous_rank", "rank_move") and view[col].dtype.kind == "f":
            view[col] = view[col].map(lambda v: "-" if pd.isna(v) else f"{int(v):+d}" if col == "rank_move" else str(int(v)))
        elif col == "close":
            view[col] = view[col].map(lambda v: f"{v:,.2f}")
        elif col == "change_pct":
            view[col] = view[col].map(lambda v: "-" if pd.isna(v) else f"{v:+.2f}")  # no % sign: the column's name says it
        elif col == "volume":
            view[col] = view[col].map(lambda v: "-" if pd.isna(v) else f"{v:,.0f}")
        elif col == "rel_volume":
            view[col] = view[col].map(lambda v: "-" if pd.isna(v) else f"{v:.2f}x")
        elif col == "name" and cut_names:
            view[col] = view[col].map(lambda v: v if not isinstance(v, str) or len(v) <= NAME_WIDTH
                                      else v[: NAME_WIDTH - 3] + "...")
        elif view[col].dtype.kind == "f":
            view[col] = view[col].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
    return view


def write_text(text: str, output: str | None) -> None:
    """To stdout, or whole into the file `output`."""
    if output is None:
        sys.stdout.write(text)
        return
    _atomic(Path(output), lambda tmp: Path(tmp).write_text(text))


def write_table(frame: pd.DataFrame, fmt: str, output: str, sources: dict | None = None) -> None:
    """A stored table's rows to `output` as Parquet or CSV, whole or not at all, saying where the data
    came from (`sources`: date -> the source's label, "simulated" for the built-in market): in CSV a
    `source` column on every row (a leading comment line would be read as data by spreadsheets and by
    pandas without `comment=`), in Parquet the file's metadata `technic.source` (the sources, comma
    separated) beside the rows as they are stored."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"--format {fmt!r}: want one of {', '.join(EXPORT_FORMATS)}")
    known = sources or {}
    if fmt == "parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        days = frame["date"].unique() if "date" in frame.columns else list(known)
        label = ", ".join(sorted({known.get(pd.Timestamp(d), "unknown") for d in days})) or "unknown"
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"technic.source": label.encode()})
        _atomic(Path(output), lambda tmp: pq.write_table(table, tmp))
    else:
        if "source" not in frame.columns and "date" in frame.columns:
            frame = frame.assign(source=pd.to_datetime(frame["date"]).map(known).fillna("unknown"))
        _atomic(Path(output), lambda tmp: spreadsheet_safe(frame).to_csv(tmp, index=False))


EXTENSIONS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".parquet": "parquet",
              ".txt": "table"}


def format_for(given: str | None, output: str | None, formats: tuple[str, ...], default: str) -> str:
    """The format asked for, else the one the output file's extension names (`top.csv`), else `default`.
    An extension that names a format this command does not write (`merit.json` from export) is refused:
    the file would hold another format than its name says."""
    if given is not None:
        return given
    suffix = Path(output).suffix.lower() if output else ""
    implied = EXTENSIONS.get(suffix)
    if implied is not None and implied not in formats:
        names = ", ".join(e for f in formats for e, g in EXTENSIONS.items() if g == f)
        raise ValueError(f"--output {output}: a {suffix} name says {implied}, but this command writes "
                         f"{', '.join(formats)}; name the file {names}, or give --format")
    return implied or default


def _mode(path: Path) -> int:
    """The mode a plain `open()` would give: the file's own when it exists, else 0666 less the umask."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic(path: Path, write) -> None:
    """`write(tmp)` into a temporary beside `path`, then renamed onto it; a path that cannot be written (a
    folder, a name too long, a full disk, ...) is a ValueError naming it, and no temporary is left. A
    symbolic link is written through: its target is replaced (keeping its mode) and the link stays."""
    given = path.expanduser()
    try:
        path = given.resolve() if given.is_symlink() else given
        if path.is_dir():
            raise ValueError(f"--output {given} is a folder; give the path of a file")
        if not path.parent.exists():
            raise ValueError(f"--output {given}: the folder {path.parent} does not exist")
        if not path.parent.is_dir():
            raise ValueError(f"--output {given}: {path.parent} is not a folder")
        mode = _mode(path)
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise ValueError(f"--output {given}: cannot be written ({exc.strerror or exc})") from None
    except RuntimeError:  # pathlib's resolve() on a loop of links
        raise ValueError(f"--output {given}: cannot be written (a loop of symbolic links)") from None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
        os.close(fd)
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise ValueError(f"--output {given}: cannot be written ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink()


def plain(value):
    """JSON's value: NaN and infinities null, numpy numbers plain (nested dicts and lists too)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value
