-- Receipts accepted by the aggregator, the replay guard (unique constraints), the quarantine list
-- and the epoch secret. Runs unchanged on PostgreSQL 15+ and on PGlite (PostgreSQL 18 in WASM).

CREATE TABLE receipts (
  seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  accepted_at  BIGINT  NOT NULL,              -- Unix ms, the aggregator's clock (not the worker's time_ms)
  pubkey_hex   TEXT    NOT NULL,
  epoch_id     BIGINT  NOT NULL,
  nonce        BIGINT  NOT NULL,
  sig_hex      TEXT    NOT NULL,
  device_did   TEXT    NOT NULL,
  audited      BOOLEAN NOT NULL,
  ops          BIGINT  NOT NULL CHECK (ops >= 0),  -- verified int8 ops credited for this receipt
  receipt_json TEXT    NOT NULL,              -- the receipt as received (wire field order)
  -- The replay rules of SPEC.md §6.2, enforced by the database:
  CONSTRAINT receipts_attempt_unique UNIQUE (pubkey_hex, epoch_id, nonce),
  CONSTRAINT receipts_signature_unique UNIQUE (sig_hex)
);
CREATE INDEX receipts_key_seq ON receipts (pubkey_hex, seq);
CREATE INDEX receipts_accepted_at ON receipts (accepted_at);

-- Exact count of receipts without scanning them. Each writer adds to one of 256 shards (chosen by
-- its backend pid), so concurrent accepts do not queue on one row lock.
CREATE TABLE receipt_counts (
  shard INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 256),
  n     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO receipt_counts (shard) SELECT generate_series(0, 255);

-- Per key and device: what GET /devices reports, kept up to date by the accept statement so that
-- the query costs O(devices), not O(receipts). ops is NUMERIC: a device at 100 TOPS passes 2^63
-- ops in about a day.
CREATE TABLE device_totals (
  pubkey_hex TEXT    NOT NULL,
  device_did TEXT    NOT NULL,
  receipts   BIGINT  NOT NULL,
  ops        NUMERIC NOT NULL,
  first_seen BIGINT  NOT NULL,                -- acceptance times, Unix ms
  last_seen  BIGINT  NOT NULL,
  PRIMARY KEY (pubkey_hex, device_did)
);

CREATE TABLE quarantine (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pubkey_hex TEXT   NOT NULL,
  since      BIGINT NOT NULL,                 -- Unix ms
  until      BIGINT NOT NULL,                 -- Unix ms; refused while until > now
  reason     TEXT   NOT NULL,
  evidence   JSONB  NOT NULL
);
CREATE INDEX quarantine_key_until ON quarantine (pubkey_hex, until);
CREATE INDEX quarantine_until ON quarantine (until);

-- One row: the secret the epochs' prev_hash is derived from, shared by every aggregator process.
CREATE TABLE epoch_secret (
  id         SMALLINT PRIMARY KEY CHECK (id = 1),
  secret     BYTEA  NOT NULL CHECK (octet_length(secret) = 32),
  created_at BIGINT NOT NULL
);

-- One-time imports (the JSON-lines ledger of earlier versions), so they never run twice.
CREATE TABLE imports (
  name        TEXT PRIMARY KEY,
  receipts    BIGINT NOT NULL,
  quarantine  BIGINT NOT NULL,
  imported_at BIGINT NOT NULL
);
