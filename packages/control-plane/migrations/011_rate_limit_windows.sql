-- Rate limits across nodes (issue 9): one row per rate limit and fixed window, holding the units
-- allocated to nodes in that window. Claims update it with one atomic UPDATE ... RETURNING that
-- never lets `allocated` pass the limit; rows of ended windows are deleted.
CREATE TABLE rate_limit_windows (
  rate_limit_id text NOT NULL REFERENCES rate_limits (id) ON DELETE CASCADE,
  window_start_ms bigint NOT NULL,
  window_end_ms bigint NOT NULL,
  allocated bigint NOT NULL DEFAULT 0 CHECK (allocated >= 0),
  last_granted bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (rate_limit_id, window_start_ms)
);
CREATE INDEX rate_limit_windows_end_idx ON rate_limit_windows (window_end_ms);
