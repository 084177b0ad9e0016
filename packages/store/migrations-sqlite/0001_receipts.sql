-- The embedded engine's schema (SQLite 3.37+, STRICT tables): the same tables, columns and
-- constraints as ../migrations on PostgreSQL, where SQLite's types allow:
--  - seq is the rowid (INTEGER PRIMARY KEY): a new row gets max(seq) + 1, and rows are never
--    deleted, so seqs only grow (and an imported ledger's seqs are simply continued);
--  - one writer (the aggregator's process holds db.lock), so the receipt counter is one row and
--    device totals are not sharded;
--  - SQLite's integers stop at 2^63 - 1, and a device at 100 TOPS passes that in about a day:
--    device_totals.ops is its decimal digits, zero-padded to 39 so that text order is numeric
--    order (ORDER BY, no conversion), added up exactly by the store (JavaScript BigInt).

CREATE TABLE receipts (
  seq          INTEGER PRIMARY KEY,
  accepted_at  INTEGER NOT NULL,              -- Unix ms, the aggregator's clock (not the worker's time_ms)
  pubkey_hex   TEXT    NOT NULL,
  epoch_id     INTEGER NOT NULL,
  nonce        INTEGER NOT NULL,
  sig_hex      TEXT    NOT NULL,
  device_did   TEXT    NOT NULL,
  audited      INTEGER NOT NULL CHECK (audited IN (0, 1)),
  ops          INTEGER NOT NULL CHECK (ops >= 0), -- verified int8 ops credited for this receipt
  receipt_json TEXT    NOT NULL,              -- the receipt as received (wire field order)
  -- The replay rules of SPEC.md §6.2, enforced by the database:
  CONSTRAINT receipts_attempt_unique UNIQUE (pubkey_hex, epoch_id, nonce),
  CONSTRAINT receipts_signature_unique UNIQUE (sig_hex)
) STRICT;
CREATE INDEX receipts_key_seq ON receipts (pubkey_hex, seq);
CREATE INDEX receipts_accepted_at ON receipts (accepted_at);

-- Exact count of receipts without scanning them.
CREATE TABLE receipt_counts (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n  INTEGER NOT NULL
) STRICT;
INSERT INTO receipt_counts (id, n) VALUES (1, 0);

-- Per key and device: what GET /devices reports, kept up to date by each accept transaction.
CREATE TABLE device_totals (
  pubkey_hex TEXT    NOT NULL,
  device_did TEXT    NOT NULL,
  receipts   INTEGER NOT NULL,
  ops        TEXT    NOT NULL CHECK (length(ops) = 39 AND ops NOT GLOB '*[^0-9]*'),
  first_seen INTEGER NOT NULL,                -- acceptance times, Unix ms
  last_seen  INTEGER NOT NULL,
  PRIMARY KEY (pubkey_hex, device_did)
) STRICT;

CREATE TABLE quarantine (
  id         INTEGER PRIMARY KEY,
  pubkey_hex TEXT    NOT NULL,
  since      INTEGER NOT NULL,                -- Unix ms
  until      INTEGER NOT NULL,                -- Unix ms; refused while until > now
  reason     TEXT    NOT NULL,
  evidence   TEXT    NOT NULL CHECK (json_valid(evidence))
) STRICT;
CREATE INDEX quarantine_key_until ON quarantine (pubkey_hex, until);
CREATE INDEX quarantine_until ON quarantine (until);

-- One row: the secret the epochs' prev_hash is derived from.
CREATE TABLE epoch_secret (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  secret     BLOB    NOT NULL CHECK (length(secret) = 32),
  created_at INTEGER NOT NULL
) STRICT;

-- One-time imports (the JSON-lines ledger of earlier versions), so they never run twice.
CREATE TABLE imports (
  name        TEXT    PRIMARY KEY,
  receipts    INTEGER NOT NULL,
  quarantine  INTEGER NOT NULL,
  imported_at INTEGER NOT NULL
) STRICT;
