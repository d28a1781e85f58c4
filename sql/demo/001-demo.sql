-- Demo data for `make run` and manual testing (util/pg.sh demo); never part
-- of the migrations.  Loading it again resets the two demo organizations,
-- the Idempotency-Keys their users sent included.
--
--   organization acme
--     u-alice   may add to acme-prospects (in its user_ids)
--     u-bob     no access to any list
--     u-carol   no access either: she acts as an admin (X-User-Role: admin),
--               which comes from auth, not from the database
--     lists     acme-prospects (person, {u-alice}), already holding
--               p-000001 and p-000002; acme-companies (company, {u-alice})
--     searches  acme-cto     {"titles": ["CTO"]}
--               acme-all     {}
--               acme-eng-de  {"departments": ["Engineering"], "countries": ["Germany"]}
--               acme-invalid {"jobTitles": ["CTO"]} (a key the module refuses)
--
--   organization globex
--     u-dave    may add to globex-leads (person, {u-dave})
--     searches  globex-sales {"departments": ["Sales"]}
--
--   global.persons p-000001 .. p-005000, generated deterministically.

BEGIN;

DELETE FROM tenant.idempotency_keys  WHERE org_id IN ('acme', 'globex');
DELETE FROM tenant.lead_list_persons WHERE org_id IN ('acme', 'globex');
DELETE FROM tenant.persons           WHERE org_id IN ('acme', 'globex');
DELETE FROM tenant.searches          WHERE org_id IN ('acme', 'globex');
DELETE FROM tenant.lead_lists        WHERE org_id IN ('acme', 'globex');

WITH
titles (t) AS (
    -- title, seniority, department; common titles appear more than once
    VALUES (ARRAY[
        ['CTO',                        'C-Level',  'Engineering'],
        ['CEO',                        'C-Level',  'Management'],
        ['CFO',                        'C-Level',  'Finance'],
        ['VP of Engineering',          'VP',       'Engineering'],
        ['VP of Sales',                'VP',       'Sales'],
        ['VP of Marketing',            'VP',       'Marketing'],
        ['Head of Product',            'Director', 'Product'],
        ['Director of Sales',          'Director', 'Sales'],
        ['Engineering Manager',        'Manager',  'Engineering'],
        ['Sales Manager',              'Manager',  'Sales'],
        ['Marketing Manager',          'Manager',  'Marketing'],
        ['Software Engineer',          'Senior',   'Engineering'],
        ['Software Engineer',          'Entry',    'Engineering'],
        ['Senior Software Engineer',   'Senior',   'Engineering'],
        ['Data Scientist',             'Senior',   'Engineering'],
        ['Account Executive',          'Senior',   'Sales'],
        ['Account Executive',          'Entry',    'Sales'],
        ['Sales Development Rep',      'Entry',    'Sales'],
        ['Product Manager',            'Manager',  'Product'],
        ['Recruiter',                  'Senior',   'Human Resources'],
        ['HR Business Partner',        'Senior',   'Human Resources'],
        ['Financial Analyst',          'Entry',    'Finance'],
        ['Customer Success Manager',   'Manager',  'Customer Success'],
        ['Content Marketer',           'Entry',    'Marketing']
    ])
),
companies (c) AS (
    -- name, domain, industry
    VALUES (ARRAY[
        ['Initech',           'initech.com',        'Software'],
        ['Hooli',             'hooli.com',          'Internet'],
        ['Vandelay Industries','vandelay.com',      'Manufacturing'],
        ['Stark Industries',  'stark.com',          'Defense'],
        ['Wayne Enterprises', 'wayne.com',          'Conglomerate'],
        ['Umbrella Health',   'umbrella-health.com','Healthcare'],
        ['Cyberdyne Systems', 'cyberdyne.io',       'Software'],
        ['Soylent Foods',     'soylent.com',        'Food & Beverages'],
        ['Tyrell Corporation','tyrell.com',         'Biotechnology'],
        ['Wonka Industries',  'wonka.com',          'Food & Beverages'],
        ['Pied Piper',        'piedpiper.com',      'Software'],
        ['Massive Dynamic',   'massivedynamic.com', 'Research'],
        ['Dunder Mifflin',    'dundermifflin.com',  'Paper & Forest Products'],
        ['Oscorp',            'oscorp.com',         'Biotechnology'],
        ['Nakatomi Trading',  'nakatomi.co.jp',     'Financial Services'],
        ['Blue Sun',          'bluesun.com',        'Retail'],
        ['Gringotts Bank',    'gringotts.co.uk',    'Banking'],
        ['Prestige Worldwide','prestige.com',       'Entertainment'],
        ['Monarch Solutions', 'monarch.de',         'Software'],
        ['Brightwater Energy','brightwater.no',     'Renewables']
    ])
),
places (p) AS (
    -- city, state, country
    VALUES (ARRAY[
        ['San Francisco', 'California',       'United States'],
        ['New York',      'New York',         'United States'],
        ['Austin',        'Texas',            'United States'],
        ['Seattle',       'Washington',       'United States'],
        ['Boston',        'Massachusetts',    'United States'],
        ['Berlin',        'Berlin',           'Germany'],
        ['Munich',        'Bavaria',          'Germany'],
        ['Hamburg',       'Hamburg',          'Germany'],
        ['London',        'England',          'United Kingdom'],
        ['Manchester',    'England',          'United Kingdom'],
        ['Paris',         'Île-de-France',    'France'],
        ['Lyon',          'Auvergne-Rhône-Alpes', 'France'],
        ['Toronto',       'Ontario',          'Canada'],
        ['Amsterdam',     'North Holland',    'Netherlands'],
        ['Stockholm',     'Stockholm',        'Sweden'],
        ['Tokyo',         'Tokyo',            'Japan'],
        ['Sydney',        'New South Wales',  'Australia'],
        ['São Paulo',     'São Paulo',        'Brazil']
    ])
),
names (f, l) AS (
    VALUES (
        ARRAY['Emma','Liam','Olivia','Noah','Ava','Lucas','Mia','Ethan',
              'Sofia','Mateo','Hannah','Jonas','Léa','Hugo','Yuki','Kenji',
              'Amara','Omar','Priya','Arjun','Chloe','Felix','Nora','Elias',
              'Isabel','Marco','Freya','Lars','Zoe','Daniel'],
        ARRAY['Smith','Müller','García','Johnson','Schmidt','Martin','Brown',
              'Dubois','Rossi','Tanaka','Silva','Jensen','Nguyen','Kowalski',
              'Williams','Fischer','Bernard','Lopez','Andersson','Sato',
              'Taylor','Weber','Moreau','Novak','Clark','Becker','Laurent',
              'Patel','Evans'])
),
people AS (
    SELECT i,
           n.f[1 + (i * 7) % cardinality(n.f)]                AS first_name,
           n.l[1 + (i * 11) % cardinality(n.l)]               AS last_name,
           1 + (i * 13 + i / 7) % (array_length(t.t, 1))      AS ti,
           1 + (i * 17 + i / 5) % (array_length(c.c, 1))      AS ci,
           1 + (i * 19 + i / 3) % (array_length(p.p, 1))      AS pi,
           t.t, c.c, p.p
      FROM generate_series(1, 5000) AS i, titles AS t, companies AS c,
           places AS p, names AS n
)
INSERT INTO global.persons (id, profile)
SELECT format('p-%s', lpad(i::text, 6, '0')),
       jsonb_build_object(
           'id',            format('p-%s', lpad(i::text, 6, '0')),
           'firstName',     first_name,
           'lastName',      last_name,
           'fullName',      first_name || ' ' || last_name,
           'title',         t[ti][1],
           'headline',      t[ti][1] || ' at ' || c[ci][1],
           'email',         lower(translate(first_name || '.' || last_name,
                                            'éèüöäåøÉçãí', 'eeuoaaoEcai'))
                            || '@' || c[ci][2],
           'phone',         CASE WHEN i % 3 = 0 THEN NULL
                                 ELSE format('+1-555-%s', lpad((i % 10000)::text, 4, '0'))
                            END,
           'linkedinUrl',   format('https://www.linkedin.com/in/%s-%s-%s',
                                   lower(first_name), lower(last_name), i),
           'companyId',     'c-' || lpad(ci::text, 4, '0'),
           'companyName',   c[ci][1],
           'companyDomain', c[ci][2],
           'industry',      c[ci][3],
           'seniority',     t[ti][2],
           -- a few people work across two departments
           'departments',   CASE WHEN i % 9 = 0 AND t[ti][3] <> 'Engineering'
                                 THEN jsonb_build_array(t[ti][3], 'Engineering')
                                 ELSE jsonb_build_array(t[ti][3])
                            END,
           'city',          p[pi][1],
           'state',         p[pi][2],
           'country',       p[pi][3])
  FROM people
    ON CONFLICT (id) DO UPDATE SET profile = excluded.profile;

INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids) VALUES
    ('acme',   'acme-prospects', 'Acme prospects',        'person',  '{u-alice}'),
    ('acme',   'acme-companies', 'Acme target accounts',  'company', '{u-alice}'),
    ('globex', 'globex-leads',   'Globex leads',          'person',  '{u-dave}');

INSERT INTO tenant.searches (org_id, id, user_id, filters) VALUES
    ('acme',   'acme-cto',     'u-alice', '{"titles": ["CTO"]}'),
    ('acme',   'acme-all',     'u-alice', '{}'),
    ('acme',   'acme-eng-de',  'u-alice', '{"departments": ["Engineering"], "countries": ["Germany"]}'),
    ('acme',   'acme-invalid', 'u-alice', '{"jobTitles": ["CTO"]}'),
    ('globex', 'globex-sales', 'u-dave',  '{"departments": ["Sales"]}');

-- acme already holds two prospects, one with a note of its own that a
-- later add must keep.
INSERT INTO tenant.persons (org_id, id, profile)
SELECT 'acme', g.id,
       CASE WHEN g.id = 'p-000001'
            THEN g.profile || '{"notes": "met at the Berlin meetup", "email": "private@example.com"}'
            ELSE g.profile
       END
  FROM global.persons AS g
 WHERE g.id IN ('p-000001', 'p-000002');

INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
VALUES ('acme', 'acme-prospects', 'p-000001', 'u-alice'),
       ('acme', 'acme-prospects', 'p-000002', 'u-alice');

COMMIT;

ANALYZE global.persons;
