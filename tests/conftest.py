"""Fixtures shared by every test folder: a real PostgreSQL (tests/support/pgparts.py), started once
per session and only when a test asks for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pgparts import PostgresCluster

from agent.ledger import Ledger


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Journals of PostgreSQL ledgers go under the test's own folder, never the home one."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster on 127.0.0.1 for the session; removed at the end."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("postgres"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database for this test: its SQLAlchemy URL (postgresql+psycopg://)."""
    return postgres_cluster.create_database("t_" + uuid.uuid4().hex[:12])


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's ledger lives, once per store: a SQLite file, then a fresh PostgreSQL
    database. A test taking this runs against both, through the same code."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(ledger_location: str) -> Iterator[Ledger]:
    """An open ledger of site shire-hall, in each store in turn."""
    book = Ledger(ledger_location, site="shire-hall")
    book.open()
    yield book
    book.close()
    book.dispose()
