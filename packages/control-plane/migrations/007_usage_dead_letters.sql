-- Usage records the control plane cannot store (issue 8): kept aside with the reason instead of
-- failing their batch. `record` holds the bytes received (the protobuf `UsageRecord`, at most
-- 256 KiB of it: `record_bytes` is the full size); `fingerprint` (sha-256 of reason, request id
-- and the full bytes) makes a replayed batch dead-letter each record once. Text columns are already
-- made storable. Ids are time-ordered: pages go newest first by id.
CREATE TABLE usage_dead_letters (
  id text PRIMARY KEY,
  fingerprint bytea NOT NULL UNIQUE,
  reason text NOT NULL,
  detail text NOT NULL,
  node_id text NOT NULL,
  request_id text NOT NULL,
  organization_id text NOT NULL,
  record bytea NOT NULL,
  record_bytes integer NOT NULL,
  received_at timestamptz NOT NULL
);
