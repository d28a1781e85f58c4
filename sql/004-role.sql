-- The role the nginx module logs in as, with what the endpoint needs and
-- nothing more: it reads the columns leadlist.add_prospects reads, inserts
-- the rows it inserts, may update only tenant.persons.profile (the merge),
-- and cannot delete, truncate, alter, create or read anything else.
--
-- Roles are cluster-wide: the role is created only if missing, and its
-- password is set outside the migrations (util/pg.sh, or the operator).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'leadlist_app') THEN
        CREATE ROLE leadlist_app;
    END IF;
END
$$;

ALTER ROLE leadlist_app
    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;

-- This database: connect, nothing else (no CREATE SCHEMA, no temporary
-- tables); PUBLIC loses its defaults here, so only granted roles connect.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO leadlist_app', current_database());
END
$$;

-- Schemas: nobody but the owner creates in public (PostgreSQL 15 already
-- says so) or uses it; the role uses only the schemas of the endpoint.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA global, tenant, leadlist FROM PUBLIC;
GRANT USAGE ON SCHEMA global, tenant, leadlist TO leadlist_app;

-- Tables, column by column: a column added later is not readable until
-- someone grants it.
GRANT SELECT (id, profile, search_title, search_seniority,
              search_departments, search_industry, search_company_domain,
              search_company_name, search_country, search_state, search_city)
                                                ON global.persons    TO leadlist_app;
GRANT SELECT (org_id, id, type, user_ids)       ON tenant.lead_lists TO leadlist_app;
GRANT SELECT (org_id, id, filters)              ON tenant.searches   TO leadlist_app;

-- INSERT ... ON CONFLICT (org_id, id) DO UPDATE SET profile = excluded.profile
-- || t.profile reads the key and the old profile and updates the profile.
GRANT SELECT (org_id, id, profile),
      INSERT (org_id, id, profile),
      UPDATE (profile)                          ON tenant.persons    TO leadlist_app;

-- INSERT ... ON CONFLICT (key) DO NOTHING needs to read the key columns.
GRANT SELECT (org_id, lead_list_id, person_id),
      INSERT (org_id, lead_list_id, person_id, added_by)
                                                ON tenant.lead_list_persons TO leadlist_app;

-- Functions are executable by PUBLIC by default: only the role runs the
-- endpoint's.  global.lower_departments stays PUBLIC (see 002).
REVOKE ALL ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer) TO leadlist_app;
