-- The benchmark's tenants, reset on every run (the catalogue stays):
--
--   psql -v orgs=64 -v lists=16 -v fresh=1000 -v cold=2000 -v dups=50 \
--        -v tmpl='<person template>' -f bench/fixtures.sql      (superuser)
--
-- Organizations are '1' .. :orgs, with numeric ids so that pgbench can
-- send the very parameters the module sends (pgbench variables are
-- numbers).  Every list of organization o has the id
--
--     o * 1000000 + kind * 100000 + j
--
-- with kind
--
--     1  direct, new persons (A)                  j < :lists
--     2  direct, half duplicates (B): each list holds :dups persons
--        'x-<list>-<k>', k = 1 .. :dups           j < :lists
--     3  all duplicates (D): each list holds 'x-<list>-1'
--                                                 j < :lists
--     4  bulk, filter, fresh lists (C)            j < :fresh
--     5  bulk, {}, fresh lists (C)                j < :fresh
--     6  bulk latency, filter, fresh lists        j < :fresh
--
-- and organizations 100001 .. 100000 + :cold each hold one list of kind 7
-- (j = 0) for bulk adds into an organization that has no copies yet.
-- Every organization has the searches 'filter' (a few percent of the
-- catalogue: VPs and C-levels in the United States) and 'all' ({}).  The
-- caller is 'u-bench', a member (not an admin) of every list.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

BEGIN;

TRUNCATE tenant.lead_list_persons, tenant.persons, tenant.lead_lists,
         tenant.searches;

CREATE TEMP TABLE bench_orgs ON COMMIT DROP AS
SELECT o, false AS cold FROM generate_series(1, :orgs) AS o
UNION ALL
SELECT 100000 + o, true FROM generate_series(1, :cold) AS o;

INSERT INTO tenant.searches (org_id, id, user_id, filters)
SELECT o::text, s.id, 'u-owner', s.filters::jsonb
  FROM bench_orgs,
       (VALUES ('filter', '{"seniorities": ["VP", "C-Level"], "countries": ["United States"]}'),
               ('all', '{}')) AS s(id, filters);

INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)
SELECT o::text, (o::bigint * 1000000 + k.kind * 100000 + j)::text,
       format('bench %s/%s', k.kind, j), 'person',
       '{u-owner,u-bench,u-other}'::text[]
  FROM bench_orgs AS b
  JOIN (VALUES (1, :lists), (2, :lists), (3, :lists),
               (4, :fresh), (5, :fresh), (6, :fresh)) AS k(kind, n)
    ON NOT b.cold
 CROSS JOIN LATERAL generate_series(0, k.n - 1) AS j
UNION ALL
SELECT o::text, (o::bigint * 1000000 + 7 * 100000)::text, 'bench cold',
       'person', '{u-owner,u-bench,u-other}'::text[]
  FROM bench_orgs
 WHERE cold;

-- a few company lists, as real organizations have
INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)
SELECT o::text, 'companies-' || o, 'bench companies', 'company', '{u-bench}'
  FROM bench_orgs WHERE NOT cold;

CREATE TEMP TABLE bench_dups ON COMMIT DROP AS
SELECT o::text AS org_id, l.id AS list_id,
       format('x-%s-%s', l.id, k) AS person_id
  FROM bench_orgs AS b
 CROSS JOIN LATERAL (SELECT (b.o::bigint * 1000000 + kind * 100000 + j)::text AS id, kind
                       FROM generate_series(2, 3) AS kind,
                            generate_series(0, :lists - 1) AS j) AS l
 CROSS JOIN LATERAL generate_series(1, CASE l.kind WHEN 2 THEN :dups ELSE 1 END) AS k
 WHERE NOT b.cold;

INSERT INTO tenant.persons (org_id, id, profile)
SELECT org_id, person_id, replace(:'tmpl', '@ID@', person_id)::jsonb
  FROM bench_dups
 ORDER BY org_id, person_id;

INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
SELECT org_id, list_id, person_id, 'u-owner'
  FROM bench_dups
 ORDER BY org_id, list_id, person_id;

COMMIT;

VACUUM ANALYZE tenant.lead_lists, tenant.searches, tenant.persons,
               tenant.lead_list_persons;
