-- Indexes that let a saved search's filters find their matches in a
-- catalogue of millions without reading all of it.
--
-- A filter compares a profile field case-insensitively with a list of
-- values; leadlist.add_prospects writes each such test exactly as the
-- indexed expression below (lower(profile ->> 'field') = ANY (...), and
-- global.lower_departments(profile) && ...), so that the planner can match
-- them.  ANALYZE keeps statistics on these expressions, so the planner also
-- knows which filter is selective.

-- The profile's departments, lowercased, as a text[] for a GIN index.
-- Anything but an array of strings counts as no departments.
--
-- It lives beside the table it indexes and stays executable by PUBLIC:
-- every role that writes global.persons evaluates it to maintain the index.
-- The body is parsed at creation (SQL-standard body), so the caller's
-- search_path cannot change what it calls.
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

CREATE INDEX persons_lower_title_idx
    ON global.persons (lower(profile ->> 'title'));
CREATE INDEX persons_lower_seniority_idx
    ON global.persons (lower(profile ->> 'seniority'));
CREATE INDEX persons_lower_departments_idx
    ON global.persons USING gin (global.lower_departments(profile));
CREATE INDEX persons_lower_industry_idx
    ON global.persons (lower(profile ->> 'industry'));
CREATE INDEX persons_lower_company_domain_idx
    ON global.persons (lower(profile ->> 'companyDomain'));
CREATE INDEX persons_lower_company_name_idx
    ON global.persons (lower(profile ->> 'companyName'));
CREATE INDEX persons_lower_country_idx
    ON global.persons (lower(profile ->> 'country'));
CREATE INDEX persons_lower_state_idx
    ON global.persons (lower(profile ->> 'state'));
CREATE INDEX persons_lower_city_idx
    ON global.persons (lower(profile ->> 'city'));
