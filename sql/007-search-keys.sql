-- The search columns of global.persons, bounded; and a merge that never
-- fails on a profile that is not an object.
--
-- 1. Keys instead of lowercased values.  002 kept each field a filter can
--    name lowercased in a generated column and indexed it, whole: one
--    INCLUDEd in persons_search_idx, each in an index of its own, and
--    each department in a GIN index.  A btree entry holds at most 2,704
--    bytes, and a GIN entry about as much, so a catalogue row with a long
--    title (1,000 CJK characters is 3,000 bytes), or three fields of 1,024
--    characters, could no longer be written by the services that write
--    the catalogue, whose rows the module does not control (SPEC 2).
--
--    Each column now holds global.search_key of the field: the value
--    lowercased when that takes at most 64 bytes and holds no DEL
--    (U+007F), else DEL followed by the md5 of the lowercased value (33
--    bytes).  A plain key never holds DEL and a digest always starts with
--    it, so two keys are equal exactly when the lowercased values are
--    (up to an md5 collision, which takes two values made for it; it could
--    only let an organization select a catalogue person its filter does
--    not name, which it may pick by id anyway).  The statement turns a
--    filter's values into keys the same way, so a filter matches as
--    before, whatever the length of the value.  md5 rather than sha256:
--    md5(text) is immutable, so PostgreSQL inlines search_key into the
--    generated columns (about 1.5 us per column and write); sha256 needs
--    convert_to(), which is only stable, and costs 6 us.
--
--    persons_search_idx INCLUDEs the eight text columns (at most 65 bytes
--    each), no longer the departments, whose number has no bound: a
--    filter on departments reads the table for the rows it tests.  Its
--    entries leave room for person ids of up to about 2,000 bytes (the
--    primary key alone takes up to 2,704).
--
-- 2. The merge.  The probe read the keys of the profile to copy with
--    jsonb_object_keys(), which fails on a catalogue profile that is not
--    an object (SPEC 2 only says jsonb): the first add of such a person
--    worked and every later one answered 500.  A copy or a profile that is
--    not an object now has nothing to merge: an existing copy is kept as
--    it is (a record the organization holds is never overwritten, SPEC
--    1.4), and the upsert updates only when both are objects.
--
-- The columns are dropped and added again, so this rewrites
-- global.persons and builds the indexes anew (47 s for a million persons
-- on a 2-CPU machine); the dropped columns take their grants with them,
-- which are given again below.

CREATE FUNCTION global.search_key(value text)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN pg_catalog.octet_length(pg_catalog.lower(value)) <= 64
         AND pg_catalog.strpos(pg_catalog.lower(value), pg_catalog.chr(127)) = 0
    THEN pg_catalog.lower(value)
    ELSE pg_catalog.chr(127) || pg_catalog.md5(pg_catalog.lower(value))
END;

-- The keys of the profile's departments.  Anything but an array counts as
-- no departments; an element that is not a string counts as its text, as
-- in 002.
CREATE FUNCTION global.search_departments(profile jsonb)
    RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    SELECT coalesce(pg_catalog.array_agg(global.search_key(d.value)),
                    '{}'::text[])
      FROM pg_catalog.jsonb_array_elements_text(
               CASE WHEN pg_catalog.jsonb_typeof(profile OPERATOR(pg_catalog.->) 'departments') = 'array'
                    THEN profile OPERATOR(pg_catalog.->) 'departments'
                    ELSE '[]'::jsonb
               END) AS d(value)
);

ALTER TABLE global.persons
    DROP COLUMN search_title,
    DROP COLUMN search_seniority,
    DROP COLUMN search_departments,
    DROP COLUMN search_industry,
    DROP COLUMN search_company_domain,
    DROP COLUMN search_company_name,
    DROP COLUMN search_country,
    DROP COLUMN search_state,
    DROP COLUMN search_city,
    ADD COLUMN search_title text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'title')) STORED,
    ADD COLUMN search_seniority text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'seniority')) STORED,
    ADD COLUMN search_departments text[]
        GENERATED ALWAYS AS (global.search_departments(profile)) STORED,
    ADD COLUMN search_industry text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'industry')) STORED,
    ADD COLUMN search_company_domain text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'companyDomain')) STORED,
    ADD COLUMN search_company_name text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'companyName')) STORED,
    ADD COLUMN search_country text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'country')) STORED,
    ADD COLUMN search_state text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'state')) STORED,
    ADD COLUMN search_city text
        GENERATED ALWAYS AS (global.search_key(profile ->> 'city')) STORED;

DROP FUNCTION global.lower_departments(jsonb);

CREATE INDEX persons_search_idx
    ON global.persons (id)
       INCLUDE (search_title, search_seniority, search_industry,
                search_company_domain, search_company_name, search_country,
                search_state, search_city);

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

GRANT SELECT (search_title, search_seniority, search_departments,
              search_industry, search_company_domain, search_company_name,
              search_country, search_state, search_city)
    ON global.persons TO leadlist_app;


-- The statement: 006's, with the filter's values made keys and the merge
-- above; nothing else changed.  CREATE OR REPLACE keeps its grants.

CREATE OR REPLACE FUNCTION leadlist.add_prospects(
    p_org_id        text,
    p_user_id       text,
    p_is_admin      boolean,
    p_list_id       text,
    p_body          jsonb,
    p_max_selection integer,
    p_flags         integer,
    p_idem_key      text,
    p_idem_ttl      integer,
    OUT outcome     text,
    OUT added_count integer,
    OUT selected_count bigint,
    OUT response    text,
    OUT replayed    boolean)
    LANGUAGE plpgsql
    VOLATILE
    SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_type      text;
    v_user_ids  text[];
    v_sel       jsonb;
    v_filters   jsonb;
    v_key       text;
    v_values    jsonb;
    v_test      text;
    v_where     text;
    v_exclude   text[];
    v_offset    bigint;
    v_limit     bigint;
    v_max       bigint;
    v_ids       text[];         -- selected, ascending (COLLATE "C")
    v_profiles  jsonb[];        -- their profiles, in the same order
    v_given     text[];         -- ids mode: the distinct ids asked for
    v_added     text[];         -- the report: added, ascending
    v_missed    bigint;         -- ids mode: given ids not matched
    v_report    boolean;        -- flag 1: the per-id report
    v_keyed     record;         -- the answer of add_prospects_keyed
BEGIN
    IF p_idem_key IS NOT NULL OR p_flags & 2 = 2 THEN
        -- an assignment, not SELECT ... FROM: a plain expression call
        v_keyed := leadlist.add_prospects_keyed(p_org_id, p_user_id, p_is_admin,
                                                p_list_id, p_body, p_max_selection,
                                                p_flags, p_idem_key, p_idem_ttl);
        outcome := v_keyed.outcome;
        added_count := v_keyed.added_count;
        selected_count := v_keyed.selected_count;
        response := v_keyed.response;
        replayed := v_keyed.replayed;
        RETURN;
    END IF;

    replayed := false;
    added_count := 0;
    v_report := coalesce(p_flags & 1 = 1, false);

    SELECT l.type, l.user_ids
      INTO v_type, v_user_ids
      FROM tenant.lead_lists AS l
     WHERE l.org_id = p_org_id AND l.id = p_list_id;

    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;

    -- coalesce: a NULL user id or a NULL in user_ids must deny, not pass.
    IF NOT (coalesce(p_is_admin, false)
            OR coalesce(p_user_id = ANY (v_user_ids), false))
    THEN
        outcome := 'forbidden';
        RETURN;
    END IF;

    IF v_type = 'company' THEN
        outcome := 'company_list';
        RETURN;
    END IF;

    IF v_type IS DISTINCT FROM 'person' THEN
        RAISE EXCEPTION 'lead list % has unknown type %', p_list_id, v_type
              USING ERRCODE = 'data_exception';
    END IF;

    IF jsonb_typeof(p_body -> 'persons') = 'array'
       AND NOT p_body ? 'selection'
    THEN
        IF jsonb_array_length(p_body -> 'persons') = 0 THEN
            RAISE EXCEPTION 'persons must not be empty'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;

        -- Direct mode, in one statement (bench/statement.sh found it as
        -- fast as a statement per step, and it needs no arrays in
        -- between).  The request's objects are the profiles; a repeated id
        -- counts once, its first occurrence wins.  An object without a
        -- string id gets a NULL id, which the NOT NULL key refuses: the
        -- whole call fails.
        WITH input AS (
            SELECT DISTINCT ON (d.id) d.id, d.profile
              FROM (SELECT CASE WHEN jsonb_typeof(e.v -> 'id') = 'string'
                                THEN e.v ->> 'id'
                           END AS id,
                           e.v AS profile, e.n
                      FROM jsonb_array_elements(p_body -> 'persons')
                           WITH ORDINALITY AS e(v, n)) AS d
             ORDER BY d.id, d.n
        ),
        copied AS (
            INSERT INTO tenant.persons AS t (org_id, id, profile)
            SELECT p_org_id, i.id, i.profile
              FROM input AS i
             WHERE (SELECT CASE WHEN jsonb_typeof(h.profile) = 'object'
                                 AND jsonb_typeof(i.profile) = 'object'
                                THEN h.profile ?& ARRAY(SELECT jsonb_object_keys(i.profile))
                                ELSE true
                           END
                      FROM tenant.persons AS h
                     WHERE h.org_id = p_org_id AND h.id = i.id) IS NOT TRUE
             ORDER BY i.id COLLATE "C"
                ON CONFLICT (org_id, id) DO UPDATE
               SET profile = excluded.profile || t.profile
             WHERE jsonb_typeof(t.profile) = 'object'
               AND jsonb_typeof(excluded.profile) = 'object'
               AND excluded.profile || t.profile <> t.profile
        ),
        added AS (
            INSERT INTO tenant.lead_list_persons AS m
                   (org_id, lead_list_id, person_id, added_by)
            SELECT p_org_id, p_list_id, i.id, p_user_id
              FROM input AS i
             ORDER BY i.id COLLATE "C"
                ON CONFLICT (org_id, lead_list_id, person_id) DO NOTHING
            RETURNING m.person_id
        )
        SELECT (SELECT count(*) FROM input),
               count(*),
               array_agg(a.person_id ORDER BY a.person_id COLLATE "C")
                   FILTER (WHERE v_report)
          INTO selected_count, added_count, v_added
          FROM added AS a;

        IF v_report THEN
            v_ids := ARRAY(SELECT d.id
                             FROM (SELECT DISTINCT e.v ->> 'id' AS id
                                     FROM jsonb_array_elements(p_body -> 'persons') AS e(v)) AS d
                            ORDER BY d.id COLLATE "C");
        END IF;

    ELSIF jsonb_typeof(p_body -> 'selection') = 'object'
          AND NOT p_body ? 'persons'
    THEN
        -- Bulk mode: the matches of a saved search, profiles from the
        -- catalogue.
        v_sel := p_body -> 'selection';
        v_where := 'true';
        v_max := coalesce(p_max_selection, 1000);
        v_missed := 0;

        SELECT s.filters
          INTO v_filters
          FROM tenant.searches AS s
         WHERE s.org_id = p_org_id AND s.id = v_sel ->> 'searchId';

        IF NOT FOUND THEN
            outcome := 'search_not_found';
            RETURN;
        END IF;

        -- Each filter becomes a test of its search_ column (007), with
        -- its values made keys the same way (global.search_key) and quoted
        -- as a constant (%L), so that the planner sees the values and can
        -- pick the most selective index.
        -- A key or value it cannot apply exactly refuses the search:
        -- ignoring it would widen the selection.
        IF jsonb_typeof(v_filters) IS DISTINCT FROM 'object' THEN
            outcome := 'search_invalid';
            RETURN;
        END IF;

        FOR v_key, v_values IN
            SELECT f.key, f.value FROM jsonb_each(v_filters) AS f ORDER BY f.key
        LOOP
            IF jsonb_typeof(v_values) IS DISTINCT FROM 'array'
               OR EXISTS (SELECT
                            FROM jsonb_array_elements(v_values) AS x(v)
                           WHERE jsonb_typeof(x.v) IS DISTINCT FROM 'string')
            THEN
                outcome := 'search_invalid';
                RETURN;
            END IF;

            v_test := CASE v_key
                WHEN 'titles'         THEN 'p.search_title'
                WHEN 'seniorities'    THEN 'p.search_seniority'
                WHEN 'industries'     THEN 'p.search_industry'
                WHEN 'companyDomains' THEN 'p.search_company_domain'
                WHEN 'companyNames'   THEN 'p.search_company_name'
                WHEN 'countries'      THEN 'p.search_country'
                WHEN 'states'         THEN 'p.search_state'
                WHEN 'cities'         THEN 'p.search_city'
                WHEN 'departments'    THEN 'p.search_departments'
            END;

            IF v_test IS NULL THEN
                outcome := 'search_invalid';
                RETURN;
            END IF;

            v_where := v_where || format(
                CASE WHEN v_key = 'departments'
                     THEN ' AND %s && %L::text[]'
                     ELSE ' AND %s = ANY (%L::text[])'
                END,
                v_test,
                ARRAY(SELECT global.search_key(x.v)
                        FROM jsonb_array_elements_text(v_values) AS x(v)));
        END LOOP;

        IF coalesce((v_sel -> 'selectAll')::boolean, false) THEN
            v_exclude := ARRAY(SELECT jsonb_array_elements_text(
                                   coalesce(v_sel -> 'excludeIds', '[]')));
            IF cardinality(v_exclude) > 0 THEN
                v_where := v_where || ' AND NOT EXISTS (SELECT FROM unnest($1)'
                                   || ' AS x(id) WHERE x.id = p.id)';
            END IF;

            v_offset := coalesce((v_sel ->> 'offset')::bigint, 0);
            -- Without a limit, fetch one more than the cap to learn
            -- whether the selection is over it.
            v_limit := coalesce((v_sel ->> 'limit')::bigint, v_max + 1);

            -- The page is the first matches in the database's id order
            -- (the index's); ids only until the page is cut, so that a
            -- sort of many matches stays narrow; the page's profiles are
            -- then read by key.
            EXECUTE 'SELECT array_agg(g.id ORDER BY g.id COLLATE "C"),'
                 || '       array_agg(g.profile ORDER BY g.id COLLATE "C")'
                 || '  FROM (SELECT p.id FROM global.persons AS p'
                 || '         WHERE ' || v_where
                 || '         ORDER BY p.id OFFSET $2 LIMIT $3) AS s'
                 || '  JOIN global.persons AS g ON g.id = s.id'
               INTO v_ids, v_profiles
              USING v_exclude, v_offset, v_limit;

            IF v_sel ->> 'limit' IS NULL AND cardinality(v_ids) > v_max THEN
                EXECUTE 'SELECT count(*) FROM global.persons AS p WHERE '
                     || v_where
                   INTO selected_count
                  USING v_exclude;
                selected_count := selected_count - v_offset;
                outcome := 'selection_too_large';
                RETURN;
            END IF;
        ELSE
            -- Picked ids: those the search matches; the others, and any
            -- holding a control character, are not matched.
            v_given := ARRAY(SELECT d.id
                               FROM (SELECT DISTINCT x.id
                                       FROM jsonb_array_elements_text(
                                                coalesce(v_sel -> 'ids', '[]')) AS x(id)) AS d
                              ORDER BY d.id COLLATE "C");

            EXECUTE 'SELECT array_agg(p.id ORDER BY p.id COLLATE "C"),'
                 || '       array_agg(p.profile ORDER BY p.id COLLATE "C")'
                 || '  FROM global.persons AS p'
                 || ' WHERE p.id = ANY ($1) AND ' || v_where
               INTO v_ids, v_profiles
              USING ARRAY(SELECT x.id FROM unnest(v_given) AS x(id)
                           WHERE x.id !~ '[\x01-\x1f\x7f-\x9f]');

            v_missed := cardinality(v_given) - coalesce(cardinality(v_ids), 0);
        END IF;

        selected_count := coalesce(cardinality(v_ids), 0);

        IF selected_count > 0 THEN
            -- The writes of direct mode, from the arrays.
            WITH input AS (
                SELECT u.id, u.profile
                  FROM unnest(v_ids, v_profiles) AS u(id, profile)
            ),
            copied AS (
                INSERT INTO tenant.persons AS t (org_id, id, profile)
                SELECT p_org_id, i.id, i.profile
                  FROM input AS i
                 WHERE (SELECT CASE WHEN jsonb_typeof(h.profile) = 'object'
                                     AND jsonb_typeof(i.profile) = 'object'
                                    THEN h.profile ?& ARRAY(SELECT jsonb_object_keys(i.profile))
                                    ELSE true
                               END
                          FROM tenant.persons AS h
                         WHERE h.org_id = p_org_id AND h.id = i.id) IS NOT TRUE
                 ORDER BY i.id COLLATE "C"
                    ON CONFLICT (org_id, id) DO UPDATE
                   SET profile = excluded.profile || t.profile
                 WHERE jsonb_typeof(t.profile) = 'object'
                   AND jsonb_typeof(excluded.profile) = 'object'
                   AND excluded.profile || t.profile <> t.profile
            ),
            added AS (
                INSERT INTO tenant.lead_list_persons AS m
                       (org_id, lead_list_id, person_id, added_by)
                SELECT p_org_id, p_list_id, i.id, p_user_id
                  FROM input AS i
                 ORDER BY i.id COLLATE "C"
                    ON CONFLICT (org_id, lead_list_id, person_id) DO NOTHING
                RETURNING m.person_id
            )
            SELECT count(*),
                   array_agg(a.person_id ORDER BY a.person_id COLLATE "C")
                       FILTER (WHERE v_report)
              INTO added_count, v_added
              FROM added AS a;
        END IF;

    ELSE
        RAISE EXCEPTION 'the body must hold exactly one of persons and selection'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    outcome := 'ok';
    response := format('{"addedCount":%s,"alreadyInListCount":%s,"notMatchedCount":%s',
                       added_count, selected_count - added_count,
                       coalesce(v_missed, 0));

    IF v_report THEN
        -- v_ids and v_added are both ascending: what is in v_ids and not
        -- in v_added, in order, is what was already in the list.
        response := response || format(
            ',"added":%s,"alreadyInList":%s,"notMatched":%s',
            array_to_json(coalesce(v_added, '{}')),
            array_to_json(ARRAY(
                SELECT x.id COLLATE "C"
                  FROM unnest(v_ids) AS x(id)
                EXCEPT ALL
                SELECT a.id COLLATE "C"
                  FROM unnest(v_added) AS a(id)
                 ORDER BY 1)),
            array_to_json(ARRAY(
                SELECT x.id COLLATE "C"
                  FROM unnest(v_given) AS x(id)
                EXCEPT ALL
                SELECT s.id COLLATE "C"
                  FROM unnest(v_ids) AS s(id)
                 ORDER BY 1)));
    END IF;

    response := response || '}';
END
$fn$;

COMMENT ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer, integer, text, integer) IS
    'POST /api/lead-lists/{id}/add-prospects: one call per request; see sql/006-add-prospects.sql and 007';
