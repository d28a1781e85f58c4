-- The benchmark's global catalogue: :rows persons in global.persons, with
-- the fields a search result shows and skewed, realistic distributions
-- (titles carry their seniority and department, companies carry their
-- industry, big companies have many people, the United States hold about
-- 38% of the people).  Every draw is a hash of the person's number, so the
-- catalogue is the same on every run.
--
--   psql -v rows=1000000 -v tag='...' -f bench/catalogue.sql   (superuser)
--
-- The search indexes of sql/002 are dropped for the load and rebuilt from
-- their own definitions afterwards (one bulk build is much faster than a
-- million index insertions); everything runs in one transaction, so an
-- interrupted load leaves the schema as the migrations made it.  The table
-- comment records :tag, which bench/lib.sh compares to decide whether a
-- kept cluster already holds this catalogue.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET maintenance_work_mem = '512MB';
SET work_mem = '64MB';

BEGIN;

TRUNCATE tenant.lead_list_persons, tenant.persons;
TRUNCATE global.persons;

CREATE TEMP TABLE bench_idx ON COMMIT DROP AS
SELECT indexname, indexdef
  FROM pg_indexes
 WHERE schemaname = 'global' AND tablename = 'persons'
   AND indexname NOT IN (SELECT conname FROM pg_constraint
                          WHERE conrelid = 'global.persons'::regclass);

DO $$
DECLARE i record;
BEGIN
    FOR i IN SELECT indexname FROM bench_idx LOOP
        EXECUTE format('DROP INDEX global.%I', i.indexname);
    END LOOP;
END
$$;

-- (title, seniority, department, weight)
CREATE TEMP TABLE bench_titles (t text, s text, d text, w int) ON COMMIT DROP;
INSERT INTO bench_titles VALUES
  ('Software Engineer', 'Senior', 'Engineering', 110),
  ('Senior Software Engineer', 'Senior', 'Engineering', 60),
  ('Data Scientist', 'Senior', 'Engineering', 25),
  ('DevOps Engineer', 'Senior', 'Engineering', 25),
  ('Account Executive', 'Senior', 'Sales', 70),
  ('Sales Development Representative', 'Entry', 'Sales', 50),
  ('Customer Success Manager', 'Manager', 'Customer Success', 40),
  ('Marketing Manager', 'Manager', 'Marketing', 40),
  ('Content Marketing Specialist', 'Entry', 'Marketing', 25),
  ('Product Manager', 'Manager', 'Product', 45),
  ('Product Designer', 'Senior', 'Design', 25),
  ('Engineering Manager', 'Manager', 'Engineering', 35),
  ('Recruiter', 'Senior', 'Human Resources', 30),
  ('HR Business Partner', 'Senior', 'Human Resources', 15),
  ('Financial Analyst', 'Entry', 'Finance', 30),
  ('Accountant', 'Senior', 'Finance', 25),
  ('Operations Manager', 'Manager', 'Operations', 35),
  ('Consultant', 'Senior', 'Consulting', 45),
  ('Project Manager', 'Manager', 'Operations', 30),
  ('Customer Support Specialist', 'Entry', 'Customer Success', 35),
  ('Legal Counsel', 'Senior', 'Legal', 10),
  ('Director of Engineering', 'Director', 'Engineering', 18),
  ('Director of Sales', 'Director', 'Sales', 20),
  ('Director of Marketing', 'Director', 'Marketing', 14),
  ('Head of Product', 'Director', 'Product', 12),
  ('Head of People', 'Director', 'Human Resources', 8),
  ('Finance Director', 'Director', 'Finance', 8),
  ('VP of Engineering', 'VP', 'Engineering', 10),
  ('VP of Sales', 'VP', 'Sales', 12),
  ('VP of Marketing', 'VP', 'Marketing', 8),
  ('VP of Operations', 'VP', 'Operations', 5),
  ('VP of Finance', 'VP', 'Finance', 4),
  ('Chief Executive Officer', 'C-Level', 'Management', 12),
  ('Chief Technology Officer', 'C-Level', 'Engineering', 8),
  ('Chief Financial Officer', 'C-Level', 'Finance', 5),
  ('Chief Marketing Officer', 'C-Level', 'Marketing', 4),
  ('Chief Operating Officer', 'C-Level', 'Operations', 4),
  ('Founder', 'Owner', 'Management', 20),
  ('Partner', 'Partner', 'Consulting', 10);

-- (city, state, country, calling code, weight)
CREATE TEMP TABLE bench_places (c text, s text, n text, cc text, w int) ON COMMIT DROP;
INSERT INTO bench_places VALUES
  ('New York', 'New York', 'United States', '1', 70),
  ('San Francisco', 'California', 'United States', '1', 55),
  ('Los Angeles', 'California', 'United States', '1', 35),
  ('Seattle', 'Washington', 'United States', '1', 30),
  ('Austin', 'Texas', 'United States', '1', 30),
  ('Chicago', 'Illinois', 'United States', '1', 35),
  ('Boston', 'Massachusetts', 'United States', '1', 30),
  ('Atlanta', 'Georgia', 'United States', '1', 20),
  ('Denver', 'Colorado', 'United States', '1', 15),
  ('Miami', 'Florida', 'United States', '1', 15),
  ('London', 'England', 'United Kingdom', '44', 60),
  ('Manchester', 'England', 'United Kingdom', '44', 12),
  ('Edinburgh', 'Scotland', 'United Kingdom', '44', 8),
  ('Berlin', 'Berlin', 'Germany', '49', 30),
  ('Munich', 'Bavaria', 'Germany', '49', 20),
  ('Hamburg', 'Hamburg', 'Germany', '49', 12),
  ('Paris', 'Île-de-France', 'France', '33', 35),
  ('Lyon', 'Auvergne-Rhône-Alpes', 'France', '33', 8),
  ('Amsterdam', 'North Holland', 'Netherlands', '31', 18),
  ('Madrid', 'Community of Madrid', 'Spain', '34', 15),
  ('Barcelona', 'Catalonia', 'Spain', '34', 12),
  ('Milan', 'Lombardy', 'Italy', '39', 12),
  ('Stockholm', 'Stockholm County', 'Sweden', '46', 10),
  ('Zurich', 'Zurich', 'Switzerland', '41', 8),
  ('Dublin', 'Leinster', 'Ireland', '353', 12),
  ('Toronto', 'Ontario', 'Canada', '1', 30),
  ('Vancouver', 'British Columbia', 'Canada', '1', 15),
  ('Sydney', 'New South Wales', 'Australia', '61', 22),
  ('Melbourne', 'Victoria', 'Australia', '61', 15),
  ('São Paulo', 'São Paulo', 'Brazil', '55', 25),
  ('Mexico City', 'Mexico City', 'Mexico', '52', 15),
  ('Bangalore', 'Karnataka', 'India', '91', 45),
  ('Mumbai', 'Maharashtra', 'India', '91', 25),
  ('Singapore', 'Singapore', 'Singapore', '65', 18),
  ('Tokyo', 'Tokyo', 'Japan', '81', 20),
  ('Tel Aviv', 'Tel Aviv District', 'Israel', '972', 10),
  ('Dubai', 'Dubai', 'United Arab Emirates', '971', 10),
  ('Lagos', 'Lagos', 'Nigeria', '234', 8),
  ('Cape Town', 'Western Cape', 'South Africa', '27', 7);

CREATE TEMP TABLE bench_industries (i text, w int) ON COMMIT DROP;
INSERT INTO bench_industries VALUES
  ('Software', 160), ('IT Services', 80), ('Financial Services', 90),
  ('Banking', 40), ('Insurance', 35), ('Healthcare', 80),
  ('Hospital & Health Care', 30), ('Pharmaceuticals', 25),
  ('Biotechnology', 25), ('Retail', 60), ('E-commerce', 35),
  ('Manufacturing', 70), ('Automotive', 25), ('Education', 45),
  ('Higher Education', 20), ('Telecommunications', 30), ('Media', 25),
  ('Marketing & Advertising', 35), ('Logistics', 30), ('Energy', 25),
  ('Real Estate', 30), ('Construction', 25), ('Hospitality', 20),
  ('Government', 20), ('Nonprofit', 15), ('Legal Services', 15),
  ('Consulting', 40);

-- Every table becomes a lookup table keyed 0 .. n-1, a weighted one with
-- each row repeated by its weight; a person's draw is hash % n, joined by
-- key (hash joins: array subscripts would walk text arrays element by
-- element for every person).
CREATE TEMP TABLE bench_k_title ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY t, g) - 1)::int AS k, t, s, d
  FROM bench_titles, generate_series(1, w) AS g;
CREATE TEMP TABLE bench_k_place ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY n, c, g) - 1)::int AS k, c, s, n, cc
  FROM bench_places, generate_series(1, w) AS g;
CREATE TEMP TABLE bench_k_industry ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY i, g) - 1)::int AS k, i
  FROM bench_industries, generate_series(1, w) AS g;

CREATE TEMP TABLE bench_k_first ON COMMIT DROP AS
SELECT (k - 1)::int AS k, v FROM unnest('{James,Mary,Robert,Patricia,John,Jennifer,Michael,Linda,David,Elizabeth,William,Barbara,Richard,Susan,Joseph,Jessica,Thomas,Sarah,Daniel,Karen,Matthew,Nancy,Anthony,Lisa,Mark,Sandra,Priya,Rahul,Wei,Mei,Hiroshi,Yuki,Lukas,Anna,Felix,Sofia,Mateo,Lucia,Olivia,Noah,Emma,Liam,Ava,Ethan,Mia,Oliver,Chloe,Lucas,Amara,Chidi}'::text[]) WITH ORDINALITY AS x(v, k);
CREATE TEMP TABLE bench_k_last ON COMMIT DROP AS
SELECT (k - 1)::int AS k, v FROM unnest('{Smith,Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Hernandez,Lopez,Gonzalez,Wilson,Anderson,Thomas,Taylor,Moore,Jackson,Martin,Lee,Perez,Thompson,White,Harris,Sanchez,Clark,Ramirez,Lewis,Robinson,Walker,Young,Allen,King,Wright,Scott,Torres,Nguyen,Hill,Flores,Green,Adams,Nelson,Baker,Hall,Rivera,Campbell,Mitchell,Carter,Roberts,Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Dubois,Bernard,Rossi,Russo,Ferrari,Sharma,Patel,Singh,Kumar,Gupta,Tanaka,Suzuki,Sato,Wang,Li,Zhang,Chen,Liu,Silva,Santos,Okafor,Kowalski}'::text[]) WITH ORDINALITY AS x(v, k);
CREATE TEMP TABLE bench_k_extra ON COMMIT DROP AS
SELECT (k - 1)::int AS k, v FROM unnest('{Operations,Strategy,Sales,Marketing,Engineering,Product,Finance,Customer Success}'::text[]) WITH ORDINALITY AS x(v, k);

-- 80,000 companies: two words and a number, an industry each
CREATE TEMP TABLE bench_k_company ON COMMIT DROP AS
SELECT c.k, c.name, lower(replace(c.name, ' ', '')) || '.com' AS domain, i.i AS industry
  FROM (SELECT k, a.v || ' ' || b.v
                  || CASE WHEN k >= 1500 THEN ' ' || (k / 1500 + 1) ELSE '' END AS name
          FROM generate_series(0, 79999) AS k
          JOIN unnest('{Northwind,Blue,Apex,Summit,Bright,Nova,Silver,Green,Red,Quantum,Pioneer,Atlas,Vertex,Horizon,Crescent,Cedar,Granite,Harbor,Iron,Lumen,Maple,Meridian,Nimbus,Orbit,Pacific,Polar,Prism,River,Sierra,Solar,Sterling,Stone,Titan,Union,Vista,Willow,Zenith,Falcon,Beacon,Coral,Delta,Echo,Evergreen,First,Golden,Hudson,Keystone,Liberty,Momentum,Oak}'::text[])
               WITH ORDINALITY AS a(v, ka) ON ka - 1 = k % 50
          JOIN unnest('{Analytics,Labs,Systems,Software,Health,Capital,Logistics,Energy,Media,Partners,Networks,Robotics,Foods,Retail,Bank,Insurance,Pharma,Motors,Consulting,Solutions,Dynamics,Technologies,Ventures,Holdings,Industries,Cloud,Data,Security,Learning,Group}'::text[])
               WITH ORDINALITY AS b(v, kb) ON kb - 1 = (k / 50) % 30) AS c
  JOIN bench_k_industry AS i
    ON i.k = (hashint4(c.k + 77) & 2147483647) % (SELECT count(*) FROM bench_k_industry);

SELECT (SELECT count(*) FROM bench_k_title) AS n_title,
       (SELECT count(*) FROM bench_k_place) AS n_place,
       (SELECT count(*) FROM bench_k_first) AS n_first,
       (SELECT count(*) FROM bench_k_last) AS n_last,
       (SELECT count(*) FROM bench_k_extra) AS n_extra
\gset

ANALYZE bench_k_title, bench_k_place, bench_k_first, bench_k_last,
        bench_k_extra, bench_k_company;

INSERT INTO global.persons (id, profile)
SELECT x.id,
       jsonb_build_object(
         'id', x.id,
         'firstName', f.v,
         'lastName', l.v,
         'fullName', f.v || ' ' || l.v,
         'title', t.t,
         'headline', t.t || ' at ' || co.name,
         'email', lower(f.v) || '.' || lower(l.v) || (x.n % 97) || '@' || co.domain,
         'phone', CASE WHEN x.h3 % 5 < 3
                       THEN '+' || pl.cc || ' ' || lpad((x.h4 % 10000000)::text, 7, '0')
                  END,
         'linkedinUrl', 'https://www.linkedin.com/in/' || lower(f.v) || '-'
                        || lower(l.v) || '-' || to_hex(x.n::bigint * 7919),
         'companyId', 'c' || co.k,
         'companyName', co.name,
         'companyDomain', co.domain,
         'industry', co.industry,
         'seniority', t.s,
         'departments', CASE WHEN x.h3 % 100 < 8
                             THEN jsonb_build_array(t.d, e.v)
                             ELSE jsonb_build_array(t.d) END,
         'city', pl.c,
         'state', pl.s,
         'country', pl.n)
  FROM (SELECT n, 'p' || lpad(n::text, 7, '0') AS id, h.*,
               -- company sizes: a squared uniform draw, so that low
               -- numbers (big companies) come up far more often
               floor(80000 * power(h.h3 / 2147483648.0, 2))::int AS c
          FROM generate_series(1, :rows) AS n,
               LATERAL (SELECT hashint4(n) & 2147483647 AS h1,
                               hashint4(n + 104729) & 2147483647 AS h2,
                               hashint4(n + 1299709) & 2147483647 AS h3,
                               hashint4(-n) & 2147483647 AS h4) AS h) AS x
  JOIN bench_k_title AS t ON t.k = (x.h1 / 64) % :n_title
  JOIN bench_k_place AS pl ON pl.k = (x.h2 / 128) % :n_place
  JOIN bench_k_first AS f ON f.k = x.h1 % :n_first
  JOIN bench_k_last AS l ON l.k = x.h2 % :n_last
  JOIN bench_k_extra AS e ON e.k = (x.h4 / 16) % :n_extra
  JOIN bench_k_company AS co ON co.k = x.c
 ORDER BY x.n;

DO $$
DECLARE i record;
BEGIN
    FOR i IN SELECT indexdef FROM bench_idx LOOP
        EXECUTE i.indexdef;
    END LOOP;
END
$$;

COMMENT ON TABLE global.persons IS :'tag';

COMMIT;

VACUUM (FREEZE, ANALYZE) global.persons;
