"""The agent section (agent.config.agent): where the ledger is (a path or a SQLite or
PostgreSQL URL, and the mistakes in one) and the listen address."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MINIMAL, load, problems


def test_absolute_ledger_path_is_kept(tmp_path: Path) -> None:
    config = load(tmp_path, f"agent: {{ledger: /srv/ledger.db}}\n{MINIMAL}")
    assert config.agent.ledger == "/srv/ledger.db"


@pytest.mark.parametrize(("written", "resolved"), [
    ("sqlite:///ledgers/site.db", "{here}/ledgers/site.db"),  # relative, like a plain path
    ("sqlite:////srv/ledger.db", "/srv/ledger.db"),
    ("postgresql+psycopg://agent:${PGPASS}@db.example.internal:5432/outages",
     "postgresql+psycopg://agent:pw@db.example.internal:5432/outages"),
])
def test_ledger_accepts_sqlite_and_postgresql_urls(tmp_path: Path, written: str,
                                                    resolved: str) -> None:
    config = load(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}', env={"PGPASS": "pw"})
    assert config.agent.ledger == resolved.replace("{here}", str(tmp_path))
    if "${PGPASS}" in written:
        assert "pw" in config.secrets  # the password is scrubbed from logs and answers


@pytest.mark.parametrize(("written", "message"), [
    ("mysql://agent@db.example.internal/outages", "unsupported ledger store 'mysql'"),
    ("sqlite://", "a SQLite ledger needs a file"),
    ("postgresql+psycopg://agent@/outages", "a PostgreSQL ledger needs a host and a database"),
])
def test_ledger_url_errors_name_the_key(tmp_path: Path, written: str, message: str) -> None:
    [problem] = problems(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}')
    assert problem.startswith("config.yaml:1: agent.ledger: ")
    assert message in problem


BAD_PORT = ("config.yaml:1: agent.ledger: not a database URL: the port must be a number from 1 "
            "to 65535, and an IPv6 address goes in brackets: "
            "postgresql+psycopg://[::1]:5432/database")


@pytest.mark.parametrize("written", [
    "postgresql+psycopg://agent:s3cretpw@db.example.internal:abc/outages",
    "postgresql://agent:s3cretpw@[::1/outages",
    "postgresql://agent:s3cretpw@db.example.internal:/outages",
    "postgresql://agent:s3cretpw@db.example.internal:99999/outages",
    "postgresql://agent:s3cretpw@db.example.internal:s3cretpw/outages",
])
@pytest.mark.fault("a PostgreSQL ledger URL with a bad port (:abc, an unclosed [::1)",
                   "one file:line problem, which never shows the password")
def test_a_ledger_url_with_a_bad_port_is_a_problem_without_its_password(
    tmp_path: Path, written: str,
) -> None:
    assert problems(tmp_path, f'agent: {{ledger: "{written}"}}\n{MINIMAL}') == [BAD_PORT]


def test_ipv6_listen_address_in_brackets(tmp_path: Path) -> None:
    assert (
        load(tmp_path, f'agent: {{listen: "[::1]:9321"}}\n{MINIMAL}').agent.listen == "[::1]:9321"
    )
