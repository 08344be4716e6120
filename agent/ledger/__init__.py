"""The ledger: the only code that opens or commits transactions, through SQLAlchemy Core.

One code path for two stores: a SQLite file in WAL mode (one agent, the default) or a
PostgreSQL database many agents share, each writing its own site's rows. Writes go through one
writer thread, in order, batched into one transaction per wake-up, so the event loop never
blocks on the database and a burst of transitions costs one commit. A batch that fails to
commit (a full disk, a lost connection) is kept and retried with backoff ahead of anything
newer, so nothing is lost or reordered while the store is unwell. Reads take their own short
connection: WAL (or PostgreSQL) lets a CLI command or the API read while the daemon writes.

In parts: `schema` (the tables, declared once), `migrations`, `store` (where the ledger is and
how to reach it), `claim` (one agent per ledger), `writer` and `writes` (the daemon's writes),
`reads`, `edits` (imports, annotations and voids, audited), `rows` (records as rows), and
`ledger`, the `Ledger` everything else calls.
"""

from agent.ledger.ledger import Ledger
from agent.ledger.migrations import migration_sql
from agent.ledger.rows import Action, ImportScope, StoredWindow, SystemTotals
from agent.ledger.schema import SCHEMA_VERSION
from agent.ledger.store import TIMEOUT_SECONDS, LedgerError, ledger_url
from agent.ledger.writer import Outcome

__all__ = [
    "SCHEMA_VERSION",
    "TIMEOUT_SECONDS",
    "Action",
    "ImportScope",
    "Ledger",
    "LedgerError",
    "Outcome",
    "StoredWindow",
    "SystemTotals",
    "ledger_url",
    "migration_sql",
]
