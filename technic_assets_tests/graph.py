"""The graph as the tests run it: the assets on the default partitions, and resources read from the
environment as a run would (tests set TECHNIC_DUCKDB_PATH and friends with monkeypatch first)."""

from __future__ import annotations

import dataclasses

from technic_assets.config import DEFAULT_START_DATE, AlphaSettings, ScanSettings
from technic_assets.definitions import build_assets, build_definitions
from technic_assets.environment import Environment
from technic_assets.resources import build_resources

ASSETS = build_assets(DEFAULT_START_DATE)


def environment(**overrides) -> Environment:
    return dataclasses.replace(Environment.read(), **overrides)


def resources(n_stocks: int | None = None, *, alpha: AlphaSettings | None = None, **scan) -> dict:
    """Every resource for the environment, on a built-in market of `n_stocks` stocks if given, with
    these scan settings and alpha settings."""
    env = environment(**({"n_stocks": n_stocks} if n_stocks else {}))
    out = build_resources(env)
    if scan:
        out["scan"] = ScanSettings(**scan)
    if alpha is not None:
        out["alpha"] = alpha
    return out


def definitions(**overrides):
    """build_definitions for the environment with `overrides` (start_date=..., n_stocks=...)."""
    return build_definitions(environment(**overrides))


@dataclasses.dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], env: dict[str, str], cwd=None) -> CliRun:
    """`technic ARGV` as a person runs it, with these environment variables (and working directory),
    in this process: the environment is read when the command builds its definitions, so a test can
    give it any start date and source without a subprocess."""
    import contextlib
    import io

    import pytest

    from technic_assets.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for name, value in env.items():
            mp.setenv(name, value)
        if cwd is not None:
            mp.chdir(cwd)
        try:
            code = main(argv)
        except SystemExit as exc:
            print(exc, file=err)
            code = exc.code if isinstance(exc.code, int) else 1
    return CliRun(code, out.getvalue(), err.getvalue())
