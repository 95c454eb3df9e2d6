-- Routing (issue 4): models sharing a public name in an organization form a route group; `priority`
-- orders the group (lower first) and `weight` shares traffic within a priority (0 = standby).
-- Usage records count the upstream attempts a request made (1 = no retry, 0 = no upstream call).
ALTER TABLE models ADD COLUMN weight integer NOT NULL DEFAULT 1 CHECK (weight >= 0);
ALTER TABLE models ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN attempts integer NOT NULL DEFAULT 0;
