-- What lets a saved search's filters find their matches in a catalogue of
-- millions without reading all of it.
--
-- A filter compares a profile field case-insensitively with a list of
-- values.  Each field a filter can name is kept lowercased beside the
-- profile, in a stored generated column: PostgreSQL computes it on every
-- write, so the services that write global.persons (id, profile) need not
-- know it exists.  leadlist.add_prospects tests these columns
-- (search_title = ANY (...), search_departments && ...), never the jsonb,
-- for two reasons:
--
--   - a test of a plain column costs a comparison, where the same test on
--     the profile costs a jsonb lookup and a lower() per row;
--   - a plain column can be INCLUDEd in an index, and persons_search_idx
--     holds them all in person id order: a selectAll page, which is the
--     first matches by id, is then an index-only scan that stops at the
--     page's last match, whatever the filter, without visiting the table
--     (except pages written since autovacuum last passed).
--
-- Measured on make bench's 1,000,000 persons (the page query alone, in
-- psql): the first 1,000 of a filter that matches 2.8% took 38 ms walking
-- the primary key and testing the profile, 15 ms testing these columns in
-- the table, and 7 ms in persons_search_idx.  The price is space: 177 MB
-- more table and a 181 MB index per million persons.
--
-- The single-column indexes serve selective filters (one company, one
-- city), and ANALYZE keeps statistics on each column, so the planner knows
-- which filter is selective.

-- The profile's departments, lowercased.  Anything but an array of strings
-- counts as no departments.
--
-- It lives beside the table it serves and stays executable by PUBLIC:
-- every role that writes global.persons evaluates it.  The body is parsed
-- at creation (SQL-standard body), so the caller's search_path cannot
-- change what it calls.
CREATE FUNCTION global.lower_departments(profile jsonb)
    RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    SELECT coalesce(pg_catalog.array_agg(pg_catalog.lower(d.value)),
                    '{}'::text[])
      FROM pg_catalog.jsonb_array_elements_text(
               CASE WHEN pg_catalog.jsonb_typeof(profile OPERATOR(pg_catalog.->) 'departments') = 'array'
                    THEN profile OPERATOR(pg_catalog.->) 'departments'
                    ELSE '[]'::jsonb
               END) AS d(value)
);

ALTER TABLE global.persons
    ADD COLUMN search_title text
        GENERATED ALWAYS AS (lower(profile ->> 'title')) STORED,
    ADD COLUMN search_seniority text
        GENERATED ALWAYS AS (lower(profile ->> 'seniority')) STORED,
    ADD COLUMN search_departments text[]
        GENERATED ALWAYS AS (global.lower_departments(profile)) STORED,
    ADD COLUMN search_industry text
        GENERATED ALWAYS AS (lower(profile ->> 'industry')) STORED,
    ADD COLUMN search_company_domain text
        GENERATED ALWAYS AS (lower(profile ->> 'companyDomain')) STORED,
    ADD COLUMN search_company_name text
        GENERATED ALWAYS AS (lower(profile ->> 'companyName')) STORED,
    ADD COLUMN search_country text
        GENERATED ALWAYS AS (lower(profile ->> 'country')) STORED,
    ADD COLUMN search_state text
        GENERATED ALWAYS AS (lower(profile ->> 'state')) STORED,
    ADD COLUMN search_city text
        GENERATED ALWAYS AS (lower(profile ->> 'city')) STORED;

CREATE INDEX persons_search_idx
    ON global.persons (id)
       INCLUDE (search_title, search_seniority, search_departments,
                search_industry, search_company_domain, search_company_name,
                search_country, search_state, search_city);

CREATE INDEX persons_search_title_idx
    ON global.persons (search_title);
CREATE INDEX persons_search_seniority_idx
    ON global.persons (search_seniority);
CREATE INDEX persons_search_departments_idx
    ON global.persons USING gin (search_departments);
CREATE INDEX persons_search_industry_idx
    ON global.persons (search_industry);
CREATE INDEX persons_search_company_domain_idx
    ON global.persons (search_company_domain);
CREATE INDEX persons_search_company_name_idx
    ON global.persons (search_company_name);
CREATE INDEX persons_search_country_idx
    ON global.persons (search_country);
CREATE INDEX persons_search_state_idx
    ON global.persons (search_state);
CREATE INDEX persons_search_city_idx
    ON global.persons (search_city);
