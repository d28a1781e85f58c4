-- pgbench script for the database limit of workload D (bench/run.sh): the
-- module's statement with the module's parameters, one person that the
-- list (kind 3) already holds ('x-<list>-1', made by bench/fixtures.sql).
-- The body is the template (-D tmpl) with the id put in on the server, as
-- in new.sql.  No Prefer, no Idempotency-Key: flags 0, key NULL.
\set o random(1, :orgs)
\set j random(0, :lists - 1)
\set list :o * 1000000 + :kind * 100000 + :j
SELECT outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects(:o::text, :user::text, :admin::boolean, :list::text, replace(:tmpl::text, '@ID@', 'x-' || :list::text || '-1')::jsonb, :max::integer, 0, NULL::text, 86400);
