-- The accept statement as a function, so that its plan is cached. Sent as text, the statement
-- (an INSERT … ON CONFLICT with three CTEs) is parsed and planned again at every batch: on the
-- embedded engine that was ≈0.8 ms of CPU of the ≈1.3 ms a one-row batch cost. PL/pgSQL keeps
-- the plan of a statement for the session (a generic plan after its first calls), on both
-- engines. Same statement and semantics as before (see receipt-store.ts, INSERT_RECEIPTS):
--  - rows travel as one JSON array: one plan for every batch size;
--  - a row whose key is quarantined at its acceptance time is not inserted;
--  - ON CONFLICT DO NOTHING under the unique constraints: a replay or a copy inserts nothing
--    (the caller classifies it), and waits for a concurrent inserter of the same key to commit;
--  - rows are inserted and device totals updated in key order, so two processes whose batches
--    overlap take their row locks in the same order instead of deadlocking;
--  - the receipt counter and the device totals are updated in the same statement, each writer
--    in the shard of its backend pid.
CREATE FUNCTION accept_receipts(batch json)
RETURNS TABLE (seq BIGINT, accepted_at BIGINT, pubkey_hex TEXT, epoch_id BIGINT, nonce BIGINT, sig_hex TEXT)
LANGUAGE plpgsql VOLATILE
AS $accept$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH inserted AS (
    INSERT INTO receipts (accepted_at, pubkey_hex, epoch_id, nonce, sig_hex, device_did, audited, ops, receipt_json)
    SELECT x.accepted_at, x.pubkey_hex, x.epoch_id, x.nonce, x.sig_hex, x.device_did, x.audited, x.ops, x.receipt_json
      FROM json_to_recordset(batch) AS x(accepted_at BIGINT, pubkey_hex TEXT, epoch_id BIGINT, nonce BIGINT, sig_hex TEXT,
                                          device_did TEXT, audited BOOLEAN, ops BIGINT, receipt_json TEXT)
     WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.pubkey_hex = x.pubkey_hex AND q.until > x.accepted_at)
     ORDER BY x.pubkey_hex, x.epoch_id, x.nonce
    ON CONFLICT DO NOTHING
    RETURNING receipts.seq, receipts.accepted_at, receipts.pubkey_hex, receipts.device_did, receipts.ops,
              receipts.epoch_id, receipts.nonce, receipts.sig_hex
  ), counted AS (
    UPDATE receipt_counts SET n = n + (SELECT count(*) FROM inserted)
     WHERE shard = pg_backend_pid() % 256 AND EXISTS (SELECT 1 FROM inserted)
  ), totals AS (
    INSERT INTO device_totals AS t (pubkey_hex, device_did, shard, receipts, ops, first_seen, last_seen)
    SELECT i.pubkey_hex, i.device_did, pg_backend_pid() % 16, count(*), sum(i.ops), min(i.accepted_at), max(i.accepted_at)
      FROM inserted i GROUP BY i.pubkey_hex, i.device_did ORDER BY i.pubkey_hex, i.device_did
    ON CONFLICT (pubkey_hex, device_did, shard) DO UPDATE SET
      receipts = t.receipts + EXCLUDED.receipts,
      ops = t.ops + EXCLUDED.ops,
      first_seen = least(t.first_seen, EXCLUDED.first_seen),
      last_seen = greatest(t.last_seen, EXCLUDED.last_seen)
  )
  SELECT i.seq, i.accepted_at, i.pubkey_hex, i.epoch_id, i.nonce, i.sig_hex FROM inserted i;
END
$accept$;
