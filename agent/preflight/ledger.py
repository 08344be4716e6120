"""Will `run` be able to write its ledger? A SQLite file opens for writing (its write lock is
taken and let go), or could be created, and its folder takes the journal; a database server
answers. A ledger another agent holds is reported as in use by it, and left alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import exc as sa_exc

from agent.ledger import LedgerError, ledger_url
from agent.ledger.store import diagnose, make_engine, reason, refuse_foreign_file
from agent.preflight.finding import Finding, in_use
from agent.preflight.holders import lock_holder


def ledger_finding(location: str) -> Finding:
    """Given agent.ledger (a resolved path or a URL), return whether run can write it."""
    url = ledger_url(location)
    if url.get_backend_name() != "sqlite":
        return _database(location)
    path = Path(url.database or "")
    real = Path(os.path.realpath(path))  # the claim's lock is beside the file a link names
    holder = lock_holder(real.with_name(real.name + ".lock"))
    if holder is not None:
        return Finding(False, f"ledger {path}: {in_use(holder)}")
    return _file(path) if path.exists() else _creatable(path)


def _file(path: Path) -> Finding:
    """An existing file: a SQLite database whose write lock can be taken now."""
    try:
        refuse_foreign_file(path)
    except LedgerError as exc:
        return Finding(False, f"ledger {exc}")
    error = _cannot_write(str(path)) or diagnose(path).strip(" ()")
    if error:
        return Finding(False, f"ledger {path}: cannot be written: {error}")
    return Finding(True, f"ledger {path}: opens for writing")


def _creatable(path: Path) -> Finding:
    """A file not there yet: run makes it and any folders above it, so the nearest folder
    that exists must take a new file (one is made and removed, unseen, to be sure)."""
    folder = next(parent for parent in path.parents if parent.exists())
    if not folder.is_dir():
        return Finding(False, f"ledger {path}: cannot be created: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Finding(False, f"ledger {path}: cannot be created in {folder}: {exc.strerror}")
    return Finding(True, f"ledger {path}: will be created by run")


def _database(location: str) -> Finding:
    """A database server: it answers, and lets a transaction begin."""
    name = ledger_url(location).render_as_string(hide_password=True)
    error = _cannot_write(location)
    if error:
        return Finding(False, f"ledger {name}: cannot connect: {error}")
    return Finding(True, f"ledger {name}: connects")


def _cannot_write(location: str) -> str:
    """Why a write transaction cannot begin on the store ("" if it can): the ledger's own
    engine begins one as its writes do (SQLite: BEGIN IMMEDIATE), then rolls it back."""
    engine = make_engine(ledger_url(location))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa_exc.SQLAlchemyError as exc:
        return reason(exc)
    finally:
        engine.dispose()
    return ""
