-- JWT-format virtual keys: the Ed25519 keys the control plane signs them with (kid = id).
-- The private key (a JWK) is AES-256-GCM sealed with the master key, the kid as associated data.
-- Exactly one key is active (signs new tokens); a rotated-out key verifies until not_after.

CREATE TABLE signing_keys (
  id text PRIMARY KEY,
  algorithm text NOT NULL CHECK (algorithm = 'EdDSA'),
  public_jwk text NOT NULL,
  private_key_ciphertext bytea NOT NULL,
  private_key_nonce bytea NOT NULL,
  private_key_tag bytea NOT NULL,
  active boolean NOT NULL,
  created_at timestamptz NOT NULL,
  not_after timestamptz,
  CHECK (NOT (active AND not_after IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys (active) WHERE active;
