import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*is currently in beta.*")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    """A fresh, empty store for one test."""
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    return path


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (the repository expects ../shared beside it)")
    return path
