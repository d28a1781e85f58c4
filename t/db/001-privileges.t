#!/usr/bin/perl
#
# The module's role, leadlist_app, can do what POST .../add-prospects needs
# and nothing else: every other write, DDL and read is refused with SQLSTATE
# 42501 (insufficient_privilege).

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use LeadlistDbTest;

my $tag = db_test_start('t001');
my $org = "$tag-org";
my $other_schema = "t001_other_$$";

remove_at_end($tag, orgs => [$org], schemas => [$other_schema]);

su(<<SQL);
INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)
VALUES (@{[ lit($org) ]}, 'list', 'secret name', 'person', '{u1}');
INSERT INTO tenant.searches (org_id, id, user_id, filters)
VALUES (@{[ lit($org) ]}, 'search', 'u1', '{}');
INSERT INTO global.persons (id, profile)
VALUES (@{[ lit("$tag-g1") ]}, '{"title": "CTO"}');
INSERT INTO tenant.persons (org_id, id, profile)
VALUES (@{[ lit($org) ]}, @{[ lit("$tag-p0") ]}, '{"title": "CEO"}');
INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
VALUES (@{[ lit($org) ]}, 'list', @{[ lit("$tag-p0") ]}, 'u1');
INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint, outcome,
                                     added_count, created_at, expires_at)
VALUES (@{[ lit($org) ]}, 'u1', 'live', '\\x00', 'not_found', 0, now(), now() + interval '1 day'),
       (@{[ lit($org) ]}, 'u1', 'expired', '\\x00', 'not_found', 0,
        now() - interval '2 days', now() - interval '1 day'),
       (@{[ lit($org) ]}, 'u1', 'expired2', '\\x00', 'not_found', 0,
        now() - interval '2 days', now() - interval '1 day');
CREATE SCHEMA $other_schema;
CREATE TABLE $other_schema.t (x int);
SQL

my $o = lit($org);

sub denied {
    my ($sql, $name) = @_;
    my $r = app_try("$sql;\n");
    is $r->{sqlstate}, '42501', "denied: $name"
        or diag "SQL: $sql\nok=$r->{ok} out=$r->{out} err=$r->{err}";
}

sub allowed {
    my ($sql, $name) = @_;
    my $r = app_try("$sql;\n");
    ok $r->{ok}, "allowed: $name" or diag "SQL: $sql\n$r->{err}";
    return $r->{rows};
}


# The role itself

is_deeply su(<<SQL),
SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,
       rolbypassrls, rolinherit
  FROM pg_roles WHERE rolname = 'leadlist_app';
SQL
    [[qw(t f f f f f f)]], 'leadlist_app: LOGIN and no other attribute';

is_deeply su(<<SQL),
SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
 WHERE r.rolname = 'leadlist_app';
SQL
    [[0]], 'leadlist_app belongs to no other role';

is_deeply su(<<SQL),
SELECT has_database_privilege('leadlist_app', current_database(), 'CONNECT'),
       has_database_privilege('leadlist_app', current_database(), 'CREATE'),
       has_database_privilege('leadlist_app', current_database(), 'TEMPORARY'),
       has_schema_privilege('leadlist_app', 'public', 'CREATE'),
       has_schema_privilege('leadlist_app', 'public', 'USAGE');
SQL
    [[qw(t f f f f)]], 'database: CONNECT only; public schema: nothing';

my $sig9 = 'text,text,boolean,text,jsonb,integer,integer,text,integer';
for my $f ("leadlist.add_prospects($sig9)", "leadlist.add_prospects_keyed($sig9)") {
    is_deeply su(<<SQL),
SELECT p.prosecdef, array_to_string(p.proconfig, ';'),
       has_function_privilege('leadlist_app', p.oid, 'EXECUTE'),
       EXISTS (SELECT FROM aclexplode(p.proacl) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
  FROM pg_proc p
 WHERE p.oid = '$f'::regprocedure;
SQL
        [['f', 'search_path=pg_catalog, pg_temp', 't', 'f']],
        "$f: SECURITY INVOKER, pinned search_path, EXECUTE for the role, not for PUBLIC";
}

is_deeply su(<<SQL),
SELECT count(*) FILTER (WHERE p.proname = 'add_prospects'),
       count(*) FILTER (WHERE p.proacl IS NULL
                           OR EXISTS (SELECT FROM aclexplode(p.proacl) a
                                       WHERE a.grantee = 0))
  FROM pg_proc p
 WHERE p.pronamespace = 'leadlist'::regnamespace;
SQL
    [[1, 0]], "one add_prospects (003's signature is gone); no function of leadlist is PUBLIC's";

is_deeply su(<<SQL),
SELECT c.relrowsecurity,
       (SELECT string_agg(concat_ws(':', p.polname, p.polcmd,
                                    p.polroles::regrole[]::text,
                                    pg_get_expr(p.polqual, p.polrelid),
                                    pg_get_expr(p.polwithcheck, p.polrelid)),
                          ' ' ORDER BY p.polname)
          FROM pg_policy p WHERE p.polrelid = c.oid)
  FROM pg_class c WHERE c.oid = 'tenant.idempotency_keys'::regclass;
SQL
    [['t', 'idempotency_keys_expire:d:{leadlist_app}:(expires_at <= now())'
           . ' idempotency_keys_read:r:{leadlist_app}:true'
           . ' idempotency_keys_record:a:{leadlist_app}:true']],
    'idempotency_keys: row-level security; the role deletes only expired keys';


# What the endpoint needs works

allowed("SELECT org_id, id, type, user_ids FROM tenant.lead_lists WHERE org_id = $o",
        'SELECT the list columns the function reads');
allowed("SELECT org_id, id, filters FROM tenant.searches WHERE org_id = $o",
        'SELECT the search columns the function reads');
allowed("SELECT id, profile FROM global.persons WHERE id = " . lit("$tag-g1"),
        'SELECT global.persons');
allowed("SELECT search_title, search_seniority, search_departments,"
        . " search_industry, search_company_domain, search_company_name,"
        . " search_country, search_state, search_city FROM global.persons"
        . " WHERE id = " . lit("$tag-g1"),
        'SELECT the search columns of global.persons (sql/002)');

allowed("SELECT org_id, user_id, key, fingerprint, outcome, added_count,"
        . " selected_count, response, expires_at FROM tenant.idempotency_keys"
        . " WHERE org_id = $o", 'SELECT the idempotency_keys columns the function reads');
allowed("INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint,"
        . " outcome, added_count, selected_count, response, expires_at)"
        . " VALUES ($o, 'u1', 'inserted', '\\x01', 'ok', 1, 1, '{}', now() + interval '1 hour')",
        'INSERT INTO tenant.idempotency_keys (what a recording writes)');
is_deeply allowed("WITH d AS (DELETE FROM tenant.idempotency_keys WHERE org_id = $o"
                  . " AND key = 'expired' RETURNING 1) SELECT count(*) FROM d",
                  'DELETE an expired key'),
    [[1]], 'an expired key is deleted';
is_deeply allowed("WITH d AS (DELETE FROM tenant.idempotency_keys WHERE org_id = $o"
                  . " RETURNING 1) SELECT count(*) FROM d",
                  'DELETE every key of the organization'),
    [[1]], '... but of all keys, only the other expired one: live keys stay';

my $r = add_prospects(org => $org, user => 'u1', admin => 0, list => 'list',
                      body => { persons => [ { id => "$tag-p1" } ] });
is_deeply [ @$r{qw(outcome added selected)} ], [ 'ok', 1, 1 ],
    'leadlist_app runs add_prospects (direct)' or diag $r->{err};

$r = add_prospects(org => $org, user => 'u1', admin => 0, list => 'list',
                   body => { selection => { searchId => 'search',
                                            ids => [ "$tag-g1" ] } });
is_deeply [ @$r{qw(outcome added selected)} ], [ 'ok', 1, 1 ],
    'leadlist_app runs add_prospects (bulk)' or diag $r->{err};


# Writes it does not need

for my $t (qw(global.persons tenant.lead_lists tenant.searches tenant.persons
              tenant.lead_list_persons))
{
    my $where = $t eq 'global.persons' ? 'true' : "org_id = $o";
    denied("DELETE FROM $t WHERE $where", "DELETE FROM $t");
    denied("TRUNCATE $t", "TRUNCATE $t");
}
denied('TRUNCATE tenant.idempotency_keys', 'TRUNCATE tenant.idempotency_keys');

for my $c (qw(org_id user_id key fingerprint outcome added_count selected_count
              response expires_at))
{
    my $v = $c =~ /count/ ? '0' : $c eq 'expires_at' ? 'now()'
          : $c eq 'fingerprint' ? "'\\x00'" : "'x'";
    denied("UPDATE tenant.idempotency_keys SET $c = $v WHERE org_id = $o",
           "UPDATE tenant.idempotency_keys.$c");
}
denied("INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint,"
       . " outcome, added_count, created_at, expires_at) VALUES ($o, 'u1', 'old',"
       . " '\\x00', 'ok', 0, now() - interval '2 days', now() - interval '1 day')",
       'INSERT INTO tenant.idempotency_keys.created_at');

denied("UPDATE tenant.lead_lists SET user_ids = '{u1,intruder}' WHERE org_id = $o",
       'UPDATE tenant.lead_lists.user_ids');
denied("UPDATE tenant.lead_lists SET type = 'person' WHERE org_id = $o",
       'UPDATE tenant.lead_lists.type');
denied("UPDATE tenant.searches SET filters = '{}' WHERE org_id = $o",
       'UPDATE tenant.searches');
denied("UPDATE global.persons SET profile = '{}' WHERE id = " . lit("$tag-g1"),
       'UPDATE global.persons');
denied("UPDATE tenant.persons SET org_id = 'elsewhere' WHERE org_id = $o",
       'UPDATE tenant.persons.org_id');
denied("UPDATE tenant.persons SET id = 'x' WHERE org_id = $o",
       'UPDATE tenant.persons.id');
denied("UPDATE tenant.lead_list_persons SET added_by = 'x' WHERE org_id = $o",
       'UPDATE tenant.lead_list_persons');
denied("INSERT INTO tenant.lead_lists (org_id, id, name, type) VALUES ($o, 'x', 'x', 'person')",
       'INSERT INTO tenant.lead_lists');
denied("INSERT INTO tenant.searches (org_id, id) VALUES ($o, 'x')",
       'INSERT INTO tenant.searches');
denied("INSERT INTO global.persons (id, profile) VALUES ('$tag-x', '{}')",
       'INSERT INTO global.persons');
denied("INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_at)"
       . " VALUES ($o, 'list', 'x', now() - interval '1 year')",
       'INSERT INTO tenant.lead_list_persons.added_at');


# Reads it does not need

denied("SELECT name FROM tenant.lead_lists WHERE org_id = $o",
       'SELECT tenant.lead_lists.name');
denied("SELECT * FROM tenant.lead_lists WHERE org_id = $o",
       'SELECT * FROM tenant.lead_lists');
denied("SELECT user_id FROM tenant.searches WHERE org_id = $o",
       'SELECT tenant.searches.user_id');
denied("SELECT added_by, added_at FROM tenant.lead_list_persons WHERE org_id = $o",
       'SELECT tenant.lead_list_persons.added_by/added_at');
denied("SELECT created_at FROM tenant.idempotency_keys WHERE org_id = $o",
       'SELECT tenant.idempotency_keys.created_at');
denied("SELECT * FROM tenant.idempotency_keys WHERE org_id = $o",
       'SELECT * FROM tenant.idempotency_keys');
denied("SELECT * FROM $other_schema.t", 'SELECT from another schema');
denied('SELECT * FROM pg_authid', 'SELECT pg_authid');


# DDL and roles

for my $s (qw(public global tenant leadlist), $other_schema) {
    denied("CREATE TABLE $s.t001_x (x int)", "CREATE TABLE in $s");
}
denied('CREATE TEMP TABLE t001_x (x int)', 'CREATE TEMP TABLE');
denied('CREATE SCHEMA t001_x', 'CREATE SCHEMA');
denied('CREATE FUNCTION leadlist.f() RETURNS int LANGUAGE sql RETURN 1',
       'CREATE FUNCTION in leadlist');
denied('CREATE VIEW tenant.v AS SELECT 1', 'CREATE VIEW in tenant');
denied('CREATE INDEX ON tenant.persons (id)', 'CREATE INDEX');
denied('ALTER TABLE tenant.persons ADD COLUMN x int', 'ALTER TABLE');
denied('ALTER TABLE tenant.lead_lists DISABLE ROW LEVEL SECURITY',
       'ALTER TABLE ... ROW LEVEL SECURITY');
denied('ALTER TABLE tenant.idempotency_keys DISABLE ROW LEVEL SECURITY',
       'ALTER TABLE tenant.idempotency_keys DISABLE ROW LEVEL SECURITY');
denied('DROP POLICY idempotency_keys_expire ON tenant.idempotency_keys', 'DROP POLICY');
denied("CREATE POLICY t001 ON tenant.idempotency_keys FOR DELETE USING (true)",
       'CREATE POLICY');
denied("ALTER FUNCTION leadlist.add_prospects($sig9) SECURITY DEFINER", 'ALTER FUNCTION');
denied('DROP TABLE tenant.lead_list_persons', 'DROP TABLE');
denied("DROP FUNCTION leadlist.add_prospects($sig9)", 'DROP FUNCTION');
denied('DROP SCHEMA tenant CASCADE', 'DROP SCHEMA');
denied('SET ROLE postgres', 'SET ROLE postgres');
denied('CREATE ROLE t001_x', 'CREATE ROLE');
denied('GRANT SELECT ON tenant.lead_lists TO PUBLIC', 'GRANT');


# Nothing of the above got through

is_deeply su(<<SQL),
SELECT (SELECT count(*) FROM tenant.lead_lists WHERE org_id = $o),
       (SELECT user_ids::text FROM tenant.lead_lists WHERE org_id = $o),
       (SELECT count(*) FROM tenant.searches WHERE org_id = $o),
       (SELECT count(*) FROM tenant.persons WHERE org_id = $o),
       (SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = $o),
       (SELECT count(*) FROM global.persons WHERE id LIKE @{[ lit("$tag-%") ]}),
       (SELECT string_agg(key || '=' || outcome, ',' ORDER BY key)
          FROM tenant.idempotency_keys WHERE org_id = $o);
SQL
    [[1, '{u1}', 1, 3, 3, 1, 'inserted=ok,live=not_found']],
    'the data is as set up plus the two adds, the inserted key, less the expired ones';

done_testing();
