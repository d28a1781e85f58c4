-- leadlist.add_prospects, second version: counts by reason, the per-id
-- report, dry runs and Idempotency-Key (SPEC 1.5, 1.6), and a re-add that
-- takes no lock.  It replaces 003's function; the module sends, per
-- request, this one statement:
--
--   SELECT outcome, added_count, selected_count, response, replayed
--     FROM leadlist.add_prospects($1::text, $2::text, $3::boolean, $4::text,
--                                 $5::jsonb, $6::integer, $7::integer,
--                                 $8::text, $9::integer)
--
--   $1 org_id, $2 user_id, $3 is_admin     from the auth subrequest
--   $4 the list id, $5 the body as the module validated it
--   $6 leadlist_max_selection
--   $7 flags: 1 = Prefer: return=representation (the per-id report),
--             2 = Prefer: tx=rollback (dry run); other bits are ignored
--   $8 the Idempotency-Key, unquoted (NULL: none); 1 to 255 printable ASCII
--   $9 leadlist_idempotency_ttl in seconds (>= 1; read only with a key)
--
-- It returns exactly one row:
--
--   outcome              added_count  selected_count  response
--   not_found            0            NULL            NULL
--   forbidden            0            NULL            NULL
--   company_list         0            NULL            NULL
--   search_not_found     0            NULL            NULL
--   search_invalid       0            NULL            NULL
--   selection_too_large  0            N               NULL   selectAll
--                                     without limit selects N > $6
--   ok                   added        N (selected)    the 200 body
--   idempotency_in_progress 0         NULL            NULL   the key's first
--                                     request has not committed yet (409)
--   idempotency_mismatch 0            NULL            NULL   the key was used
--                                     with another list, body or flags (422)
--
-- and replayed: true when the row is the recorded answer of an earlier
-- request with the same key (the module adds Idempotent-Replayed: true).
--
-- With a key, idempotency_in_progress and idempotency_mismatch (and a
-- replay) come first, before the list is looked up.  The other outcomes
-- are checked in the order of the table, all of them before anything is
-- written (003's rules, unchanged).
--
-- The 200 body, which the module sends as it is:
--
--   {"addedCount":A,"alreadyInListCount":B,"notMatchedCount":C}
--
-- and with flag 1, after the counts, "added":[...], "alreadyInList":[...],
-- "notMatched":[...]: the ids behind each count, ascending by code point
-- (COLLATE "C", i.e. UTF-8 byte order), whatever the database's collation
-- and in every mode.  selected = A + B in direct and selectAll mode; in ids
-- mode, the distinct ids given = A + B + C.  An id with a control character
-- (U+0001-U+001F, U+007F-U+009F) in selection.ids never matches: it counts
-- in C.
--
-- Dry run (flag 2): every check and the exact answer, then the work is
-- rolled back (a subtransaction ended by a private SQLSTATE): no list row,
-- no tenant copy, no key recorded.
--
-- Idempotency-Key ($8) and dry runs: see leadlist.add_prospects_keyed
-- below.  Without a key and without flag 2 the function goes straight to
-- the work, as 003's did.

DROP FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer);


-- The function the module calls.  A request with an Idempotency-Key or a
-- dry run is handed to leadlist.add_prospects_keyed (below), which calls
-- this function back without them; any other request goes straight to the
-- checks and the work, which this function does itself (no nested call:
-- the common request pays for nothing it does not use).
--
-- Writes, and what takes no lock: a prospect's row in the list is inserted
-- with ON CONFLICT DO NOTHING, which neither locks nor writes a row that is
-- there.  Its tenant copy is first probed without a lock: a copy that holds
-- every member of the profile (every top-level key; values may differ) is
-- left alone, since the merge would not change it.  Only the others go to
-- INSERT ... ON CONFLICT DO UPDATE (which locks the row it finds).  So a
-- prospect already in the list whose copy holds every member costs two
-- index probes and no lock or write; a request made only of those writes
-- nothing and never waits for another request.
--
-- Merge: a copy the organization holds keeps its values and gains the
-- members it lacks (in a || b, b's values win).  A copy completed by a
-- concurrent request between the probe and the upsert is left unchanged
-- (the WHERE of the upsert).
--
-- Concurrency: two requests adding overlapping prospects to one list each
-- insert only what the other has not (ON CONFLICT DO NOTHING waits for the
-- other's uncommitted row, then skips it: it counts as alreadyInList for
-- the second), so together they add each prospect once.  Both tables are
-- written in ascending id order (COLLATE "C") by every request, list rows
-- first (the statement's result reads them; the copies, which it does not
-- read, run when it finishes), so two requests wait for each other instead
-- of deadlocking.
--
-- Every statement names one org_id in its key or WHERE clause, so that on
-- a sharded cluster each one is routed to that organization's shard.
CREATE FUNCTION leadlist.add_prospects(
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
             WHERE (SELECT h.profile ?& ARRAY(SELECT jsonb_object_keys(i.profile))
                      FROM tenant.persons AS h
                     WHERE h.org_id = p_org_id AND h.id = i.id) IS NOT TRUE
             ORDER BY i.id COLLATE "C"
                ON CONFLICT (org_id, id) DO UPDATE
               SET profile = excluded.profile || t.profile
             WHERE excluded.profile || t.profile <> t.profile
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
                 WHERE (SELECT h.profile ?& ARRAY(SELECT jsonb_object_keys(i.profile))
                          FROM tenant.persons AS h
                         WHERE h.org_id = p_org_id AND h.id = i.id) IS NOT TRUE
                 ORDER BY i.id COLLATE "C"
                    ON CONFLICT (org_id, id) DO UPDATE
                   SET profile = excluded.profile || t.profile
                 WHERE excluded.profile || t.profile <> t.profile
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
    'POST /api/lead-lists/{id}/add-prospects: one call per request; see sql/006-add-prospects.sql';


-- Requests with an Idempotency-Key, or dry runs: leadlist.add_prospects
-- hands them here, and this function calls it back, without key and
-- without flag 2, for the checks and the work.
--
-- Idempotency-Key.  The request runs under a transaction-level advisory
-- lock on a 64-bit hash of (org_id, user_id, key), taken with
-- pg_try_advisory_xact_lock before the key is looked up:
--
--   - lock not granted: another transaction with the key has not ended:
--     idempotency_in_progress, at once (no wait).  The lock is released
--     only after that transaction's commit is visible, so once granted,
--     the lookup (a new snapshot, READ COMMITTED) sees its record.
--   - a live record with the same fingerprint: its answer, replayed, and
--     nothing else is done.  Another fingerprint: idempotency_mismatch.
--   - no record, or an expired one (treated as absent): the work runs,
--     and its outcome (any of the list and search outcomes, ok included)
--     is recorded in the same transaction.  An error rolls the record back
--     with the work: a retry after a 5xx runs again.
--
-- The fingerprint is sha256 of the list id (after its length), flags & 3
-- and the body's jsonb text.  jsonb's text is canonical for member order,
-- whitespace and repeated members, so "the same body" means the same JSON
-- value; numbers must be spelled alike (1.0 and 1.00 are equal jsonb but
-- differ here).
-- The flags include the report: the recorded 200 body is the one asked for.
--
-- Two different keys whose hashes collide share the lock: while one runs,
-- the other is answered idempotency_in_progress (a 409 the client
-- retries); nothing is mixed up, since the record is looked up by the key
-- itself.  With 64 bits this takes about 2^32 keys in flight at once.
-- (The lock space is the database's: other users of bigint advisory locks
-- could collide the same way.)
--
-- Dry run (flag 2): the work runs in a subtransaction that is then rolled
-- back by a private SQLSTATE, after its answer was taken: nothing it wrote
-- remains.  With a key, a dry run takes the lock and is checked against a
-- record like any request (its flags differ from a real request's, so a
-- recorded key answers idempotency_mismatch), but is never recorded, and
-- an expired record of its key is left for the next real request.
--
-- The table stays bounded: each recording deletes up to 16 expired rows of
-- its organization, oldest first.  One recording per organization does so
-- at a time (a second advisory lock, try-only, in the two-int4 lock space),
-- so concurrent requests of an organization never queue on each other's
-- deletes.
CREATE FUNCTION leadlist.add_prospects_keyed(
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
    v_flags     integer := coalesce(p_flags, 0) & 3;
    v_fp        bytea;
    v_rec       record;
    v_stale     boolean := false;
BEGIN
    replayed := false;
    added_count := 0;

    IF p_idem_key IS NOT NULL THEN
        -- (no {1,255} in the pattern: a counted repeat makes a large
        -- automaton to build and run on every call)
        IF octet_length(p_idem_key) NOT BETWEEN 1 AND 255
           OR p_idem_key ~ '[^\x20-\x7e]'
        THEN
            RAISE EXCEPTION 'an idempotency key is 1 to 255 printable ASCII characters'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_org_id IS NULL OR p_user_id IS NULL
           OR p_idem_ttl IS NULL OR p_idem_ttl < 1
        THEN
            RAISE EXCEPTION 'an idempotency key needs an organization, a user and a TTL of at least 1 s'
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;

        IF NOT pg_try_advisory_xact_lock(hashtextextended(
                   jsonb_build_array(p_org_id, p_user_id, p_idem_key)::text, 0))
        THEN
            outcome := 'idempotency_in_progress';
            RETURN;
        END IF;

        v_fp := sha256(convert_to(coalesce(length(p_list_id) || ':' || p_list_id, '-')
                                  || ':' || v_flags || ':' || p_body::text, 'UTF8'));

        SELECT k.fingerprint, k.outcome, k.added_count, k.selected_count,
               k.response, k.expires_at > now() AS live
          INTO v_rec
          FROM tenant.idempotency_keys AS k
         WHERE k.org_id = p_org_id AND k.user_id = p_user_id
           AND k.key = p_idem_key;

        IF FOUND THEN
            IF NOT v_rec.live THEN
                v_stale := true;
            ELSIF v_rec.fingerprint = v_fp THEN
                outcome := v_rec.outcome;
                added_count := v_rec.added_count;
                selected_count := v_rec.selected_count;
                response := v_rec.response;
                replayed := true;
                RETURN;
            ELSE
                outcome := 'idempotency_mismatch';
                RETURN;
            END IF;
        END IF;
    END IF;

    IF v_flags & 2 = 2 THEN
        BEGIN
            v_rec := leadlist.add_prospects(p_org_id, p_user_id, p_is_admin,
                                            p_list_id, p_body, p_max_selection,
                                            v_flags & 1, NULL, NULL);
            -- variables keep their values when the block rolls back
            outcome := v_rec.outcome;
            added_count := v_rec.added_count;
            selected_count := v_rec.selected_count;
            response := v_rec.response;
            RAISE EXCEPTION 'dry run' USING ERRCODE = 'LLDRY';
        EXCEPTION WHEN SQLSTATE 'LLDRY' THEN
            NULL;
        END;
        RETURN;
    END IF;

    v_rec := leadlist.add_prospects(p_org_id, p_user_id, p_is_admin,
                                    p_list_id, p_body, p_max_selection,
                                    v_flags & 1, NULL, NULL);
    outcome := v_rec.outcome;
    added_count := v_rec.added_count;
    selected_count := v_rec.selected_count;
    response := v_rec.response;

    -- Here p_idem_key is not NULL (no key and no dry run never come here).
    -- An expired record of the same key is replaced: the role may delete
    -- only expired rows (005), and the key's lock keeps other requests
    -- with the key away meanwhile.
    IF v_stale THEN
        DELETE FROM tenant.idempotency_keys AS k
         WHERE k.org_id = p_org_id AND k.user_id = p_user_id
           AND k.key = p_idem_key;
    END IF;

    INSERT INTO tenant.idempotency_keys
           (org_id, user_id, key, fingerprint, outcome, added_count,
            selected_count, response, expires_at)
    VALUES (p_org_id, p_user_id, p_idem_key, v_fp, outcome, added_count,
            selected_count, response,
            now() + make_interval(secs => p_idem_ttl));

    -- 1280068421 names this lock's purpose ("LLKE" in ASCII); the second
    -- number is the organization's.
    IF pg_try_advisory_xact_lock(1280068421, hashtext(p_org_id)) THEN
        DELETE FROM tenant.idempotency_keys AS k
         WHERE k.org_id = p_org_id
           AND (k.user_id, k.key) IN (
                   SELECT e.user_id, e.key
                     FROM tenant.idempotency_keys AS e
                    WHERE e.org_id = p_org_id AND e.expires_at <= now()
                    ORDER BY e.expires_at
                    LIMIT 16);
    END IF;
END
$fn$;

COMMENT ON FUNCTION leadlist.add_prospects_keyed(text, text, boolean, text, jsonb, integer, integer, text, integer) IS
    'leadlist.add_prospects with an Idempotency-Key or a dry run; see sql/006-add-prospects.sql';

REVOKE ALL ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer, integer, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION leadlist.add_prospects_keyed(text, text, boolean, text, jsonb, integer, integer, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadlist.add_prospects(text, text, boolean, text, jsonb, integer, integer, text, integer) TO leadlist_app;
GRANT EXECUTE ON FUNCTION leadlist.add_prospects_keyed(text, text, boolean, text, jsonb, integer, integer, text, integer) TO leadlist_app;
