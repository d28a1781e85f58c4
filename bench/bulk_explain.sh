#!/usr/bin/env bash
#
# Bulk selection against a catalogue of 1,000,000 persons: loads them into a
# throwaway cluster of its own, then calls leadlist.add_prospects as the
# module's role for a few selections, each in a transaction that is rolled
# back, and prints the plan of the function's catalogue query (auto_explain:
# ANALYZE, BUFFERS) with the time of the whole call.
#
#   bench/bulk_explain.sh [DIR]     DIR defaults to build/pg-bench
#
# The first run loads the catalogue (a minute or two); later runs reuse it.
# util/pg.sh destroy DIR removes it.  Not part of make test.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build/pg-bench}
rows=${BENCH_ROWS:-1000000}

"$root/util/pg.sh" start "$dir" >/dev/null
psql() { "$root/util/pg.sh" psql "$dir" -X -q -v ON_ERROR_STOP=1 "$@"; }

have=$(psql -Atc "SELECT count(*) FROM global.persons WHERE id LIKE 'b-%'")
if [ "$have" != "$rows" ]; then
    echo "loading $rows persons into global.persons ..."
    start=$(date +%s)
    psql <<EOF
DELETE FROM global.persons WHERE id LIKE 'b-%';

-- hash-based, deterministic draws; titles, departments, countries and
-- companies with skewed weights as in a real catalogue
CREATE TEMP TABLE w_title (t text, s text, d text, w int);
INSERT INTO w_title VALUES
  ('Software Engineer','Senior','Engineering',180), ('Account Executive','Senior','Sales',120),
  ('Sales Development Rep','Entry','Sales',80), ('Marketing Manager','Manager','Marketing',60),
  ('Product Manager','Manager','Product',60), ('Engineering Manager','Manager','Engineering',50),
  ('Data Scientist','Senior','Engineering',40), ('Recruiter','Senior','Human Resources',40),
  ('Customer Success Manager','Manager','Customer Success',50), ('Financial Analyst','Entry','Finance',40),
  ('Director of Sales','Director','Sales',25), ('Head of Product','Director','Product',15),
  ('VP of Engineering','VP','Engineering',12), ('VP of Sales','VP','Sales',12),
  ('VP of Marketing','VP','Marketing',10), ('CTO','C-Level','Engineering',20),
  ('CEO','C-Level','Management',20), ('CFO','C-Level','Finance',10),
  ('Consultant','Senior','Consulting',80), ('Operations Manager','Manager','Operations',56);
CREATE TEMP TABLE w_place (city text, state text, country text, w int);
INSERT INTO w_place VALUES
  ('San Francisco','California','United States',90), ('New York','New York','United States',110),
  ('Austin','Texas','United States',50), ('Chicago','Illinois','United States',50),
  ('Berlin','Berlin','Germany',40), ('Munich','Bavaria','Germany',25), ('Hamburg','Hamburg','Germany',15),
  ('London','England','United Kingdom',80), ('Paris','Île-de-France','France',50),
  ('Toronto','Ontario','Canada',40), ('Amsterdam','North Holland','Netherlands',25),
  ('Stockholm','Stockholm','Sweden',15), ('Madrid','Madrid','Spain',25), ('Tokyo','Tokyo','Japan',30),
  ('Sydney','New South Wales','Australia',30), ('São Paulo','São Paulo','Brazil',35),
  ('Bangalore','Karnataka','India',90), ('Singapore','Singapore','Singapore',25),
  ('Dublin','Leinster','Ireland',20), ('Zurich','Zurich','Switzerland',15);
CREATE TEMP TABLE w_ind (i text, w int);
INSERT INTO w_ind VALUES ('Software',200), ('Financial Services',120), ('Healthcare',100),
  ('Retail',90), ('Manufacturing',90), ('Education',60), ('Telecommunications',50),
  ('Energy',40), ('Media',50), ('Logistics',50), ('Biotechnology',40), ('Government',30),
  ('Real Estate',40), ('Hospitality',40);

-- expand weights into lookup arrays
CREATE TEMP TABLE lk AS
SELECT (SELECT array_agg(ARRAY[t, s, d]) FROM (SELECT t, s, d FROM w_title, generate_series(1, w)) x) AS titles,
       (SELECT array_agg(ARRAY[city, state, country]) FROM (SELECT city, state, country FROM w_place, generate_series(1, w)) x) AS places,
       (SELECT array_agg(i) FROM (SELECT i FROM w_ind, generate_series(1, w)) x) AS inds;

INSERT INTO global.persons (id, profile)
SELECT format('b-%s', lpad(n::text, 7, '0')),
       jsonb_build_object(
           'id', format('b-%s', lpad(n::text, 7, '0')),
           'firstName', 'First' || (h1 % 5000), 'lastName', 'Last' || (h2 % 20000),
           'fullName', 'First' || (h1 % 5000) || ' Last' || (h2 % 20000),
           'title', lk.titles[1 + h1 % array_length(lk.titles, 1)][1],
           'seniority', lk.titles[1 + h1 % array_length(lk.titles, 1)][2],
           'departments', CASE WHEN h3 % 10 = 0
                               THEN jsonb_build_array(lk.titles[1 + h1 % array_length(lk.titles, 1)][3], 'Operations')
                               ELSE jsonb_build_array(lk.titles[1 + h1 % array_length(lk.titles, 1)][3]) END,
           'industry', lk.inds[1 + h3 % array_length(lk.inds, 1)],
           'companyId', 'c-' || (h4 % 50000),
           'companyName', 'Company ' || (h4 % 50000),
           'companyDomain', 'company' || (h4 % 50000) || '.com',
           'email', 'p' || n || '@company' || (h4 % 50000) || '.com',
           'linkedinUrl', 'https://www.linkedin.com/in/person-' || n,
           'city', lk.places[1 + h2 % array_length(lk.places, 1)][1],
           'state', lk.places[1 + h2 % array_length(lk.places, 1)][2],
           'country', lk.places[1 + h2 % array_length(lk.places, 1)][3])
  FROM lk,
       generate_series(1, $rows) AS n,
       LATERAL (SELECT hashint4(n) & 2147483647 AS h1,
                       hashint4(n + 1000000007) & 2147483647 AS h2,
                       hashint4(n + 2000000011) & 2147483647 AS h3,
                       hashint4(-n) & 2147483647 AS h4) AS h;
VACUUM (FREEZE, ANALYZE) global.persons;
EOF
    echo "loaded in $(( $(date +%s) - start )) s"
fi

psql <<'EOF'
INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)
VALUES ('bench', 'bench-list', 'bench', 'person', '{u-bench}')
ON CONFLICT DO NOTHING;
INSERT INTO tenant.searches (org_id, id, filters) VALUES
  ('bench', 'cto',       '{"titles": ["CTO"]}'),
  ('bench', 'eng-de',    '{"departments": ["Engineering"], "countries": ["Germany"]}'),
  ('bench', 'vp-sales-ca', '{"titles": ["VP of Sales", "Director of Sales"], "states": ["California", "Texas"], "industries": ["software"]}'),
  ('bench', 'company',   '{"companyDomains": ["company4242.com"]}'),
  ('bench', 'all',       '{}')
ON CONFLICT (org_id, id) DO UPDATE SET filters = excluded.filters;
EOF

psql -Atc "SELECT 'catalogue: ' || count(*) || ' persons, '
                  || pg_size_pretty(pg_total_relation_size('global.persons'))
                  || ' with indexes' FROM global.persons"
psql -Atc "SELECT 'match counts: CTO ' || count(*) FILTER (WHERE search_title = 'cto')
                  || ', Engineering+Germany ' || count(*) FILTER (WHERE search_departments && '{engineering}' AND search_country = 'germany')
                  FROM global.persons"

# Runs one call as leadlist_app with auto_explain on, rolls it back, and
# prints the plan of the catalogue query and the call's time.
run() {
    local name=$1 body=$2
    echo
    echo "=== $name"
    echo "    body: $(printf '%s' "$body" | cut -c1-160)$([ ${#body} -gt 160 ] && echo ...)"
    psql 2>&1 <<EOF | cut -c1-240 | awk '
        /^(NOTICE|LOG):/ { keep = 0 }
        /^(NOTICE|LOG):  duration/ { buf = $0; blk = 1; next }
        blk && /^Query Text:/ { keep = ($0 ~ /global\.persons AS p/); if (keep) print buf }
        /^Time:/ { print; blk = 0; keep = 0; next }
        /^ *(outcome|-|ok|selection|search)/ && !blk { print; next }
        keep { print }
    '
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SET ROLE leadlist_app;
BEGIN;
\timing on
SELECT outcome, added_count, selected_count
  FROM leadlist.add_prospects('bench', 'u-bench', false, 'bench-list', '$body'::jsonb, 1000,
                              0, NULL, 86400);
\timing off
ROLLBACK;
EOF
}

excl=$(psql -Atc "SELECT json_agg(id) FROM (SELECT id FROM global.persons WHERE search_title = 'cto' ORDER BY id LIMIT 10000) x")
ids=$(psql -Atc "SELECT json_agg(id) FROM (SELECT id FROM global.persons WHERE id LIKE 'b-%' ORDER BY hashint4(length(id) + 7 * substr(id, 3)::int) LIMIT 1000) x")

run "selectAll, titles CTO, limit 1000"            '{"selection": {"searchId": "cto", "selectAll": true, "limit": 1000}}'
run "selectAll, titles CTO, no limit (over the cap)" '{"selection": {"searchId": "cto", "selectAll": true}}'
run "selectAll, departments+countries, limit 1000, offset 2000" '{"selection": {"searchId": "eng-de", "selectAll": true, "offset": 2000, "limit": 1000}}'
run "selectAll, titles+states+industries, no limit" '{"selection": {"searchId": "vp-sales-ca", "selectAll": true}}'
run "selectAll, one company domain, no limit"       '{"selection": {"searchId": "company", "selectAll": true}}'
run "selectAll, CTO, 10,000 excludeIds, limit 1000" "{\"selection\": {\"searchId\": \"cto\", \"selectAll\": true, \"excludeIds\": $excl, \"limit\": 1000}}"
run "ids mode, 1,000 random ids, CTO"                "{\"selection\": {\"searchId\": \"cto\", \"ids\": $ids}}"
run "selectAll, {}, offset 500000, limit 1000"      '{"selection": {"searchId": "all", "selectAll": true, "offset": 500000, "limit": 1000}}'
