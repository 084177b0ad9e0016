-- Per-device totals kept in shards, like receipt_counts: each writer adds to the shard of its
-- backend pid, so two aggregators accepting receipts of the same device at the same time no
-- longer queue on one row lock until commit (which serialised their commits). GET /devices adds
-- the shards up: at most 16 rows per device.
ALTER TABLE device_totals ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0 CHECK (shard >= 0 AND shard < 16);
ALTER TABLE device_totals DROP CONSTRAINT device_totals_pkey;
ALTER TABLE device_totals ADD PRIMARY KEY (pubkey_hex, device_did, shard);
