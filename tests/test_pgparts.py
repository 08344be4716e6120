"""The real PostgreSQL the tests use (tests/support/pgparts.py): it starts, stores and keeps each
test's database apart."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy
from support.pgparts import PostgresCluster


def test_postgres_url_is_a_real_postgresql_that_stores_and_returns_a_row(
    postgres_url: str,
) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE notes (id integer PRIMARY KEY, "
                                         "body text NOT NULL)"))
            conn.execute(sqlalchemy.text("INSERT INTO notes VALUES (1, :body)"),
                         {"body": "café £25,000"})
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT id, body FROM notes")).all()
            version = conn.execute(sqlalchemy.text("SELECT version()")).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "café £25,000")]
    assert version.startswith("PostgreSQL")


@pytest.fixture
def other_postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A second fresh database in the same test (postgres_url gives one per test)."""
    return postgres_cluster.create_database("t_" + uuid.uuid4().hex[:12])


def test_each_postgres_url_is_a_database_of_its_own(
    postgres_url: str, other_postgres_url: str
) -> None:
    assert postgres_url != other_postgres_url
    first = sqlalchemy.create_engine(postgres_url)
    second = sqlalchemy.create_engine(other_postgres_url)
    try:
        with first.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE only_here (id integer)"))
        assert sqlalchemy.inspect(first).has_table("only_here")
        assert not sqlalchemy.inspect(second).has_table("only_here")
    finally:
        first.dispose()
        second.dispose()
