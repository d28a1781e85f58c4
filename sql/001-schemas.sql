-- The tables of the database contract (SPEC section 2).
--
-- global.persons is the prospect catalogue every organization searches;
-- tenant.* holds each organization's own rows, keyed by org_id first so
-- that the schema can be sharded by organization (Citus: tenant.*
-- distributed by org_id, global.persons a reference table).
--
-- Other services write these tables, so their columns are fixed; this file
-- adds only constraints (002 adds generated columns, which no writer sees).

CREATE SCHEMA global;
CREATE SCHEMA tenant;

CREATE TABLE global.persons (
    id          text PRIMARY KEY,
    profile     jsonb NOT NULL
);

CREATE TABLE tenant.lead_lists (
    org_id      text NOT NULL,
    id          text NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL CHECK (type IN ('person', 'company')),
    user_ids    text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, id)
);

CREATE TABLE tenant.searches (
    org_id      text NOT NULL,
    id          text NOT NULL,
    user_id     text,
    filters     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, id)
);

CREATE TABLE tenant.persons (
    org_id      text NOT NULL,
    id          text NOT NULL,
    profile     jsonb NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- No foreign keys: other services write lists and members in an order this
-- module does not know, and a key to tenant.lead_lists would lock the list
-- row for every member added.  The endpoint checks the list itself.
CREATE TABLE tenant.lead_list_persons (
    org_id          text NOT NULL,
    lead_list_id    text NOT NULL,
    person_id       text NOT NULL,
    added_by        text,
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, lead_list_id, person_id)
);
