"""The local invoice store: one SQLite database (stdlib ``sqlite3``, WAL) — schema only so far.

The schema is the contract between the sync (which writes pages as they arrive)
and the views (which read headers, and lines on demand). Users may query it with
any SQLite tool; README documents it.
"""

from __future__ import annotations

DB_NAME = "invoices.sqlite3"
SCHEMA_VERSION = 1  # PRAGMA user_version

#: Amounts are exact decimal TEXT (``str(Decimal)``), dates ``YYYY-MM-DD``, flags 0/1.
#: Column names are SPEC §2's.
SCHEMA = """
CREATE TABLE accounts (
    account_key      TEXT PRIMARY KEY,   -- hash of name, provider, base_url, key path: no secret
    name             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    synced_at        TEXT,               -- ISO 8601 UTC of the last complete sync; NULL before
    invoice_count    INTEGER NOT NULL DEFAULT 0,  -- invoices of the last complete sync
    plan_price       TEXT,
    plan_currency    TEXT,
    balance          TEXT,
    balance_currency TEXT
);
CREATE TABLE invoices (
    pk                  INTEGER PRIMARY KEY,  -- stable across refreshes (rows are upserted)
    account_key         TEXT NOT NULL REFERENCES accounts (account_key) ON DELETE CASCADE,
    account             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    id                  TEXT NOT NULL,
    number              TEXT,
    label               TEXT,
    issued              TEXT,
    due                 TEXT,
    period_start        TEXT,
    period_end          TEXT,
    status              TEXT NOT NULL,
    currency            TEXT NOT NULL,
    subtotal            TEXT,
    discount            TEXT,
    tax                 TEXT,
    total               TEXT,
    amount_due          TEXT,
    tax_rate            TEXT,
    url                 TEXT,
    pdf_url             TEXT,
    totals_computed     INTEGER NOT NULL DEFAULT 0,
    estimate_incomplete INTEGER NOT NULL DEFAULT 0,
    search              TEXT NOT NULL,  -- what the / filter matches (view.search_text)
    sync_id             INTEGER NOT NULL,  -- the sync that last wrote the row
    UNIQUE (account_key, id)
);
CREATE INDEX invoices_by_issued ON invoices (issued DESC, account, id);
CREATE TABLE lines (
    invoice_pk   INTEGER NOT NULL REFERENCES invoices (pk) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    description  TEXT NOT NULL,
    quantity     TEXT,
    unit_price   TEXT,
    amount       TEXT,
    tax          TEXT,
    net          TEXT,
    gross        TEXT,
    currency     TEXT,
    period_start TEXT,
    period_end   TEXT,
    consumption  TEXT,
    "limit"      TEXT,
    lookup_key   TEXT,
    PRIMARY KEY (invoice_pk, position)
) WITHOUT ROWID;
CREATE TABLE taxes (
    invoice_pk    INTEGER NOT NULL,
    line_position INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    name          TEXT,
    rate          TEXT,
    amount        TEXT,
    level         TEXT,
    category      TEXT,
    taxable       TEXT,
    currency      TEXT,
    PRIMARY KEY (invoice_pk, line_position, position),
    FOREIGN KEY (invoice_pk, line_position) REFERENCES lines (invoice_pk, position)
        ON DELETE CASCADE
) WITHOUT ROWID;
-- A running sync, and the invoices it has written: a finished sync deletes the rows
-- of its account that it did not see, in the same transaction that stamps synced_at.
CREATE TABLE syncs (
    sync_id     INTEGER PRIMARY KEY,
    account_key TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL
);
CREATE TABLE sync_seen (
    sync_id    INTEGER NOT NULL,
    invoice_pk INTEGER NOT NULL,
    PRIMARY KEY (sync_id, invoice_pk)
) WITHOUT ROWID;
"""
