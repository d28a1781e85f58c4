-- leadlist.add_prospects: everything POST /api/lead-lists/{id}/add-prospects
-- does in the database, as the one statement the module sends per request:
--
--   SELECT outcome, added_count, selected_count
--     FROM leadlist.add_prospects($1::text, $2::text, $3::boolean,
--                                 $4::text, $5::jsonb, $6::integer)
--
-- $1 org_id, $2 user_id, $3 is_admin (from the auth subrequest), $4 the list
-- id, $5 the request body as the module validated it, $6 the
-- leadlist_max_selection cap.  It returns exactly one row:
--
--   outcome           added_count  selected_count
--   not_found         0            NULL    no list (org_id, list id)
--   forbidden         0            NULL    not in user_ids and not admin
--   company_list      0            NULL    the list takes companies
--   search_not_found  0            NULL    no search (org_id, searchId)
--   search_invalid    0            NULL    filters it cannot apply exactly
--   selection_too_large 0          N       selectAll without limit selects
--                                          N > $6 prospects
--   ok                added        N       N prospects selected (distinct),
--                                          "added" of them newly in the list
--
-- The outcomes are checked in this order and before anything is written.
-- The function runs as its caller (SECURITY INVOKER): the module's role
-- needs the table privileges granted in 004-role.sql, and no more.
--
-- Every statement names one org_id in its key or WHERE clause, so that on a
-- sharded cluster each one is routed to that organization's shard.
--
-- Concurrency: two requests adding overlapping prospects to one list each
-- insert only what the other has not (INSERT ... ON CONFLICT DO NOTHING
-- waits for the other's uncommitted row, then skips it), so together they
-- count each prospect once.  Both tables are written in ascending id order,
-- so two such requests wait for each other instead of deadlocking.

CREATE SCHEMA leadlist;

CREATE FUNCTION leadlist.add_prospects(
    p_org_id        text,
    p_user_id       text,
    p_is_admin      boolean,
    p_list_id       text,
    p_body          jsonb,
    p_max_selection integer,
    OUT outcome     text,
    OUT added_count integer,
    OUT selected_count bigint)
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
    v_where     text := 'true';
    v_exclude   text[];
    v_offset    bigint;
    v_limit     bigint;
    v_max       bigint := coalesce(p_max_selection, 1000);
    v_ids       text[];
    v_profiles  jsonb[];
BEGIN
    added_count := 0;

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
        -- Direct mode: the request's objects are the profiles.  A repeated
        -- id counts once, its first occurrence wins.
        IF jsonb_array_length(p_body -> 'persons') = 0
           OR EXISTS (SELECT
                        FROM jsonb_array_elements(p_body -> 'persons') AS e(v)
                       WHERE jsonb_typeof(e.v -> 'id') IS DISTINCT FROM 'string')
        THEN
            RAISE EXCEPTION 'persons must be objects with a string id'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;

        SELECT array_agg(d.id ORDER BY d.id), array_agg(d.v ORDER BY d.id)
          INTO v_ids, v_profiles
          FROM (SELECT DISTINCT ON (e.v ->> 'id') e.v ->> 'id' AS id, e.v
                  FROM jsonb_array_elements(p_body -> 'persons')
                       WITH ORDINALITY AS e(v, n)
                 ORDER BY e.v ->> 'id', e.n) AS d;

    ELSIF jsonb_typeof(p_body -> 'selection') = 'object'
          AND NOT p_body ? 'persons'
    THEN
        -- Bulk mode: the matches of a saved search, profiles from the
        -- catalogue.
        v_sel := p_body -> 'selection';

        SELECT s.filters
          INTO v_filters
          FROM tenant.searches AS s
         WHERE s.org_id = p_org_id AND s.id = v_sel ->> 'searchId';

        IF NOT FOUND THEN
            outcome := 'search_not_found';
            RETURN;
        END IF;

        -- Each filter becomes a test of its search_ column (002), with
        -- its values lowercased and quoted as a constant (%L), so that the
        -- planner sees the values and can pick the most selective index.
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
                ARRAY(SELECT lower(x.v)
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

            -- Ids only until the page is cut: a sort of many matches
            -- stays narrow; the page's profiles are then read by key.
            EXECUTE 'SELECT array_agg(g.id ORDER BY g.id),'
                 || '       array_agg(g.profile ORDER BY g.id)'
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
            -- Picked ids: those the search matches, the others skipped.
            EXECUTE 'SELECT array_agg(p.id ORDER BY p.id),'
                 || '       array_agg(p.profile ORDER BY p.id)'
                 || '  FROM global.persons AS p'
                 || ' WHERE p.id = ANY ($1) AND ' || v_where
               INTO v_ids, v_profiles
              USING ARRAY(SELECT jsonb_array_elements_text(
                              coalesce(v_sel -> 'ids', '[]')));
        END IF;

    ELSE
        RAISE EXCEPTION 'the body must hold exactly one of persons and selection'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    outcome := 'ok';
    selected_count := coalesce(cardinality(v_ids), 0);

    IF selected_count = 0 THEN
        RETURN;
    END IF;

    -- The organization's copy: a record it holds keeps its values and
    -- gains only the members it lacks (in a || b, b's values win).  Rows
    -- with nothing new are left alone (no dead tuple, no WAL).
    INSERT INTO tenant.persons AS t (org_id, id, profile)
    SELECT p_org_id, u.id, u.profile
      FROM unnest(v_ids, v_profiles) AS u(id, profile)
     ORDER BY u.id
        ON CONFLICT (org_id, id) DO UPDATE
       SET profile = excluded.profile || t.profile
     WHERE excluded.profile || t.profile <> t.profile;

    INSERT INTO tenant.lead_list_persons AS m
           (org_id, lead_list_id, person_id, added_by)
    SELECT p_org_id, p_list_id, u.id, p_user_id
      FROM unnest(v_ids) AS u(id)
     ORDER BY u.id
        ON CONFLICT (org_id, lead_list_id, person_id) DO NOTHING;

    GET DIAGNOSTICS added_count = ROW_COUNT;
END
$fn$;

COMMENT ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer) IS
    'POST /api/lead-lists/{id}/add-prospects: one call per request; see sql/003-add-prospects.sql';
