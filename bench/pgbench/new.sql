-- pgbench script for the database limit of workload A (bench/run.sh): the
-- module's statement with the module's parameters, one new person into a
-- list of kind 1 of a random organization.  pgbench variables are numbers,
-- so the person's id goes into the body template (-D tmpl, bench/person.json)
-- on the server: replace() of 600 bytes instead of a ready $5, the only
-- difference to what the module sends.  No Prefer, no Idempotency-Key:
-- flags 0, key NULL (the TTL is then not read).
\set o random(1, :orgs)
\set j random(0, :lists - 1)
\set list :o * 1000000 + :kind * 100000 + :j
\set key random(1, 1000000000000)
SELECT outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects(:o::text, :user::text, :admin::boolean, :list::text, replace(:tmpl::text, '@ID@', 'pg-' || :key::text)::jsonb, :max::integer, 0, NULL::text, 86400);
