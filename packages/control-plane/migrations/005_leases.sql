-- Leases and faults (issue 5): grant generations for ordered answers and conditional releases,
-- and which control-plane replica serves each node's policy stream.
ALTER TABLE budget_grants ADD COLUMN generation bigint NOT NULL DEFAULT 0;
ALTER TABLE data_plane_nodes ADD COLUMN replica_id text NOT NULL DEFAULT '';
ALTER TABLE data_plane_nodes ADD COLUMN connected_at timestamptz;
