-- Idempotency-Key (SPEC 1.6): what the first request with a key answered,
-- so that its retries get the same answer without doing the work again.
--
-- One row per (organization, user, key): keys are the caller's own, so the
-- same key sent by another user or organization is another key.  Keyed by
-- org_id first like every tenant table (a shard holds its organizations'
-- keys).  leadlist.add_prospects (006) writes a row in the transaction of
-- the request's work, so the row exists exactly when the work committed.
--
--   fingerprint     sha256 of the list id, the preference flags and the
--                   body as jsonb text: a retry must send the same list,
--                   preferences and body (jsonb-equal: member order and
--                   whitespace do not matter; see 006)
--   outcome, added_count, selected_count, response
--                   what the function returned to the first request
--   expires_at      created_at + leadlist_idempotency_ttl; from then on the
--                   key counts as unknown
--
-- The table stays bounded without a job: each recording also deletes up to
-- 16 expired rows of its organization (006).  Rows of an organization that
-- stops sending keys stay until it sends one again; an operator may delete
-- expired rows at any time (DELETE ... WHERE expires_at <= now()).

CREATE TABLE tenant.idempotency_keys (
    org_id          text NOT NULL,
    user_id         text NOT NULL,
    key             text NOT NULL,
    fingerprint     bytea NOT NULL,
    outcome         text NOT NULL,
    added_count     integer NOT NULL,
    selected_count  bigint,
    response        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id, key),
    CHECK (expires_at > created_at)
);

-- The bounded cleanup finds an organization's oldest expired rows here.
CREATE INDEX idempotency_keys_expiry_idx
    ON tenant.idempotency_keys (org_id, expires_at);

-- The module's role reads and inserts keys, and may delete a key only once
-- it has expired: row-level security, because a privilege cannot say
-- "expired".  It updates nothing.  The table's owner (the migrating
-- superuser) is not subject to the policies.
ALTER TABLE tenant.idempotency_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY idempotency_keys_read ON tenant.idempotency_keys
    FOR SELECT TO leadlist_app USING (true);
CREATE POLICY idempotency_keys_record ON tenant.idempotency_keys
    FOR INSERT TO leadlist_app WITH CHECK (true);
CREATE POLICY idempotency_keys_expire ON tenant.idempotency_keys
    FOR DELETE TO leadlist_app USING (expires_at <= now());

-- Column-level, as in 004: a column added later is not readable until
-- someone grants it.
GRANT SELECT (org_id, user_id, key, fingerprint, outcome, added_count,
              selected_count, response, expires_at),
      INSERT (org_id, user_id, key, fingerprint, outcome, added_count,
              selected_count, response, expires_at),
      DELETE
   ON tenant.idempotency_keys TO leadlist_app;
