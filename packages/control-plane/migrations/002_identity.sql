-- Identity and rights: admin API tokens bound to users, removable users, an append-only audit log.

-- The audit log is append-only: the database refuses UPDATE, DELETE and TRUNCATE on it, whoever asks.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- removeUser deletes the user but keeps their personal keys (revoked, for history and usage).
ALTER TABLE virtual_keys DROP CONSTRAINT IF EXISTS virtual_keys_user_id_fkey;
ALTER TABLE virtual_keys ADD CONSTRAINT virtual_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;

CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
CREATE INDEX virtual_keys_org_name_idx ON virtual_keys (organization_id, name);
