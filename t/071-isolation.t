# Identity and tenant isolation under attack (SPEC 1.1, 1.3 bulk selection,
# 1.4 tenant synchronization, 2 "every statement touches one organization's
# rows"), and secrets (SPEC 2 least privilege, README "the conninfo is
# never logged").  Goes beyond t/020 (the auth's answers, simple spoofing)
# and t/040 (the merge rule, one cross-tenant write):
#
#   - identity headers sent by the client in every combination of the
#     three, in three spellings of their names, repeated, while the auth
#     sends its own: the auth's values always win;
#   - auth answers with empty, repeated or comma-joined identity headers
#     while the client sends well-formed ones;
#   - organization and user ids that differ only in case or Unicode
#     normalization, or that hold SQL, JSON and LIKE metacharacters: they
#     are compared exactly, as data;
#   - another organization's lists, searches and tenant persons: never
#     read, written, counted or revealed (404 and 400 bodies identical to
#     those for ids that do not exist);
#   - the conninfo password never reaches the error log (debug level), and
#     `nginx -T` shows it only where the configuration file has it.
#
# Identities: the auth stand-in here maps a bearer token to the identity
# headers (%ID below), so that ids may hold any character but '$'.  Every
# block starts from the same fixture of 16 organizations (all "t071-..."),
# with fixed timestamps, so that a checksum of each organization's rows is
# known before any request: after every attack, the rows of every
# organization but the ones the block writes to on purpose still have it.

use lib 't/inc';
use lib 't/db/lib';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use LeadlistDbTest qw(lit);
use IO::Socket::INET;

repeat_each(1);
no_shuffle();
no_long_string();
log_level('debug');

# valgrind makes nginx many times slower (a first SCRAM login takes
# seconds): wait longer for each answer with it
timeout($ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 5);

# ----------------------------------------------------------------------
# Organizations (Perl character strings; u8() makes the bytes sent)

our $A     = 't071-a';
our $B     = 't071-b';
our $LO    = 't071-acme';
our $UP    = 't071-Acme';
our $SQLI  = "t071-'; DROP TABLE tenant.lead_lists; --";
our $JSONQ = 't071-"}';
our $BSL   = 't071-\\';
our $PCT   = 't071-%';
our $UND   = 't071-_cme';
our $OR1   = "t071-a' OR '1'='1";
our $UNIL  = "t071-\x{fc}n\x{ef}";        # lower-case u and i with diaeresis
our $UNIU  = "t071-\x{dc}n\x{ef}";        # the same with a capital U
our $NFC   = "t071-caf\x{e9}";            # e-acute, one code point
our $NFD   = "t071-cafe\x{301}";          # e + combining acute
our $USR   = 't071-users';
our $CAT   = 't071-none';                 # never a caller: a spare name

our @ORGS = ($A, $B, $LO, $UP, $SQLI, $JSONQ, $BSL, $PCT, $UND, $OR1,
             $UNIL, $UNIU, $NFC, $NFD, $USR, $CAT);

our $SQLI_USER = "'; DROP TABLE tenant.lead_lists; --";

# lists: [org, id, type, user_ids (undef is an SQL NULL)]
our @LISTS = (
    [$A, 'list-a', 'person', 'u-1'],
    [$A, 'list-open', 'person'],
    [$A, 'list-co', 'company', 'u-1'],
    [$B, 'list-b', 'person', 'u-1', 'u-2'],
    [$B, 'list-b-co', 'company', 'u-1', 'u-2'],
    [$LO, 'list-1', 'person', 'u-1'],
    [$LO, 'only-lower', 'person', 'u-1'],
    [$UP, 'list-1', 'person', 'u-1'],
    [$UP, 'only-upper', 'person', 'u-1'],
    (map { [$_, 'list-1', 'person', 'u-1'] } $SQLI, $JSONQ, $BSL, $PCT, $UND),
    [$UNIL, 'list-1', 'person', 'u-1'],
    [$UNIL, 'only-uni-lower', 'person', 'u-1'],
    [$UNIU, 'list-1', 'person', 'u-1'],
    [$NFC, 'list-1', 'person', 'u-1'],
    [$NFD, 'only-nfd', 'person', 'u-1'],
    [$USR, 'l-u1', 'person', 'u1'],
    [$USR, 'l-u12', 'person', 'u1', 'u2'],
    [$USR, 'l-sql', 'person', $SQLI_USER],
    [$USR, 'l-json', 'person', '"}'],
    [$USR, 'l-bs', 'person', '\\'],
    [$USR, 'l-pct', 'person', 'u%'],
    [$USR, 'l-uni', 'person', "\x{fc}"],
    [$USR, 'l-null', 'person', undef],
    [$USR, 'l-nullstr', 'person', 'NULL'],
    [$CAT, 'list-a', 'person', 'u-1'],
);

our @SEARCHES = (
    [$A, 's-a-any', '{}'],
    [$A, 's-a-dom', '{"companyDomains":["t071.example"]}'],
    [$A, 's-a-bsecret', '{"companyDomains":["b-secret.t071.example"]}'],
    [$B, 's-b', '{"companyDomains":["t071.example"]}'],
    [$B, 's-b-bad', '{"companyDomains":["t071.example"],"colour":["red"]}'],
    [$B, 's-b-big', '{}'],
);

# tenant rows of other organizations that a caller must never see
our @PERSONS = (
    [$B, 't071-g1', '{"id":"t071-g1","secret":"b-only","companyDomain":"b-secret.t071.example"}'],
    [$B, 't071-gx', '{"id":"t071-gx","secret":"b-only"}'],
    [$LO, 'p-lo', '{"id":"p-lo"}'],
);

our @MEMBERS = (
    [$B, 'list-b', 't071-g1', 'u-1'],
    [$LO, 'list-1', 'p-lo', 'u-1'],
);

sub reset_db {
    my $in = CORE::join(', ', map { lit($_) } @ORGS);
    my $sql = "DELETE FROM tenant.lead_list_persons WHERE org_id IN ($in);\n"
            . "DELETE FROM tenant.persons WHERE org_id IN ($in);\n"
            . "DELETE FROM tenant.lead_lists WHERE org_id IN ($in);\n"
            . "DELETE FROM tenant.searches WHERE org_id IN ($in);\n";
    for my $l (@LISTS) {
        my ($org, $id, $type, @users) = @$l;
        $sql .= "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
              . " VALUES (" . CORE::join(', ', map { lit($_) } $org, $id, $id, $type)
              . ", ARRAY[" . CORE::join(', ', map { lit($_) } @users)
              . "]::text[]);\n";
    }
    for my $s (@SEARCHES) {
        $sql .= "INSERT INTO tenant.searches (org_id, id, user_id, filters) VALUES ("
              . lit($s->[0]) . ', ' . lit($s->[1]) . ", 'u', " . lit($s->[2])
              . "::jsonb);\n";
    }
    for my $p (@PERSONS) {
        $sql .= "INSERT INTO tenant.persons (org_id, id, profile) VALUES ("
              . lit($p->[0]) . ', ' . lit($p->[1]) . ', ' . lit($p->[2])
              . "::jsonb);\n";
    }
    for my $m (@MEMBERS) {
        $sql .= "INSERT INTO tenant.lead_list_persons (org_id, lead_list_id,"
              . " person_id, added_by, added_at) VALUES ("
              . CORE::join(', ', map { lit($_) } @$m)
              . ", '2020-01-01 00:00:00+00');\n";
    }
    db($sql);
}

# the catalogue rows of this file
db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't071-%';
INSERT INTO global.persons (id, profile) VALUES
 ('t071-g1', '{"id":"t071-g1","firstName":"G1","companyDomain":"t071.example"}'),
 ('t071-g2', '{"id":"t071-g2","firstName":"G2","companyDomain":"t071.example"}'),
 ('t071-g3', '{"id":"t071-g3","firstName":"G3","companyDomain":"t071.example"}');
_SQL_

# One line per organization: the md5 of all its rows in the four tenant
# tables (row text sorted), in the order given.
sub sum_sql {
    my @orgs = @_;
    my $part = sub {
        my ($t) = @_;
        return "coalesce((SELECT string_agg(x::text, '|' ORDER BY x::text)"
             . " FROM $t AS x WHERE x.org_id = o.org), '')";
    };
    return "SELECT md5(" . CORE::join(" || '#' || ",
                                      map { $part->($_) } qw(tenant.lead_lists
                                      tenant.searches tenant.persons
                                      tenant.lead_list_persons))
         . ") FROM unnest(ARRAY[" . CORE::join(', ', map { lit($_) } @orgs)
         . "]::text[]) WITH ORDINALITY AS o(org, n) ORDER BY o.n;";
}

reset_db();

our %BASE;
{
    my $rows = db(sum_sql(@ORGS));
    @BASE{@ORGS} = map { $_->[0] } @$rows;
}

# [db_check, db_expected] of "every organization but these is untouched"
sub untouched_sql {
    my %skip = map { $_ => 1 } @_;
    return sum_sql(grep { !$skip{$_} } @ORGS);
}

sub untouched_expected {
    my %skip = map { $_ => 1 } @_;
    return CORE::join("\n", map { $BASE{$_} } grep { !$skip{$_} } @ORGS);
}

# ----------------------------------------------------------------------
# The auth stand-in: a bearer token names an identity

# token => [user, org, role, second user, second org, user as "x-user-id",
#           org as "X-ORG-ID"]; '' leaves a header out, ' ' sends it empty
our %ID = (
    'a-member'    => ['u-1', $A],
    'a-other'     => ['u-2', $A, 'viewer'],
    'a-norole'    => ['u-3', $A],
    'a-admin'     => ['u-9', $A, 'admin'],
    'lo'          => ['u-1', $LO],
    'up'          => ['u-1', $UP],
    'sqli'        => ['u-1', $SQLI],
    'jsonq'       => ['u-1', $JSONQ],
    'bsl'         => ['u-1', $BSL],
    'pct'         => ['u-1', $PCT],
    'und'         => ['u-1', $UND],
    'or1'         => ['u-1', $OR1],
    'uni-l'       => ['u-1', $UNIL],
    'uni-u'       => ['u-1', $UNIU],
    'nfc'         => ['u-1', $NFC],
    'nfd'         => ['u-1', $NFD],
    'user-u1'     => ['u1', $USR],
    'user-pct'    => ['u%', $USR],
    'user-und'    => ['u_', $USR],
    'user-upper'  => ['U1', $USR],
    'user-u12'    => ['u1,u2', $USR],
    'user-sqli'   => [$SQLI_USER, $USR],
    'user-or'     => ["' OR '1'='1", $USR],
    'user-json'   => ['"}', $USR],
    'user-quote'  => ['"', $USR],
    'user-bs'     => ['\\', $USR],
    'user-bs2'    => ['\\\\', $USR],
    'user-uni'    => ["\x{fc}", $USR],
    'user-uni-nfd' => ["u\x{308}", $USR],
    'user-uni-up' => ["\x{dc}", $USR],
    'user-null'   => ['NULL', $USR],
    'role-dot-i'  => ['u-x', $USR, "ADM\x{130}N"],
    'role-dotless' => ['u-x', $USR, "adm\x{131}n"],
    'role-pct'    => ['u-x', $USR, '%'],
    'role-semi'   => ['u-x', $USR, 'admin;x'],
    'empty-user'  => [' ', $A],
    'empty-org'   => ['u-1', ' '],
    'dup-user'    => ['u-2', $A, '', 'u-1'],
    'dup-org'     => ['u-1', $A, '', '', $B],
    'list-user'   => ['u-2, u-1', $A],
    'list-org'    => ['u-1', "$A, $B"],
    'lc-names'    => ['', '', '', '', '', 'u-1', $A],
);

# an nginx quoted string
sub nq { my ($s) = @_; $s =~ s/(["\\])/\\$1/g; return qq("$s") }

sub id_maps {
    my $c = '';
    my @vars = qw(user org role user2 org2 lcuser ucorg);
    for my $k (0 .. $#vars) {
        $c .= "    map \$http_authorization \$t071_$vars[$k] {\n        default \"\";\n";
        for my $t (sort keys %ID) {
            my $v = $ID{$t}[$k] // '';
            $c .= "        " . nq("Bearer $t") . " " . nq($v) . ";\n" if length $v;
        }
        $c .= "    }\n";
    }
    $c .= "    map \$http_authorization \$t071_known {\n        default \"\";\n";
    $c .= "        " . nq("Bearer $_") . " 1;\n" for sort keys %ID;
    $c .= "    }\n";
    utf8::encode($c);
    return $c;
}

our $HTTP_CONFIG = $http_config . id_maps();

our $CONFIG = <<'_EOC_';
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_verify;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location = /_verify {
        if ($t071_known = "") {
            return 401;
        }
        add_header X-User-Id $t071_user;
        add_header X-User-Id $t071_user2;
        add_header X-Org-Id $t071_org;
        add_header X-Org-Id $t071_org2;
        add_header X-User-Role $t071_role;
        add_header x-user-id $t071_lcuser;
        add_header X-ORG-ID $t071_ucorg;
        return 204;
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
_EOC_

# ----------------------------------------------------------------------
# Requests and answers

our $R401    = err_re('UNAUTHORIZED', 'Authentication required');
our $R401ORG = err_re('UNAUTHORIZED', 'organization ID is missing');
our $R403    = err_re('FORBIDDEN', 'You do not have access to this lead list');
our $R404    = err_re('NOT_FOUND', 'Lead list not found');
our $NOSEARCH = err_re('BAD_REQUEST', 'Request body validation failed',
                       [['selection.searchId', 'no such saved search']]);

# a 200: added, already in the list, not matched
sub added {
    my ($n, $already, $missed) = @_;
    my $s = sprintf '{"addedCount":%d,"alreadyInListCount":%d,'
                  . '"notMatchedCount":%d}', $n, $already // 0, $missed // 0;
    return qr/^\Q$s\E\z/;
}

# headers for a token, plus more lines
sub as {
    my ($token, @more) = @_;
    return CORE::join("\n", "Authorization: Bearer $token",
                      'Content-Type: application/json', @more);
}

# "POST /api/lead-lists/<list>/add-prospects\n<body>"
sub post {
    my ($list, $body) = @_;
    return "POST /api/lead-lists/$list/add-prospects\n" . $body;
}

sub one { my ($id) = @_; return qq({"persons":[{"id":"$id"}]}) }

our $JSON_HDRS = "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}";

# The client's identity headers: every non-empty subset of the three, with
# names in canonical, lower and upper case.
our @SUBSETS = ([0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]);
our @NAMES = ('X-User-Id', 'X-Org-Id', 'X-User-Role');

sub spoof {
    my ($subset, $style, @values) = @_;
    return map {
        my $n = $NAMES[$_];
        $n = lc $n if $style eq 'lower';
        $n = uc $n if $style eq 'upper';
        "$n: $values[$_]";
    } @$subset;
}

# the spoofing requests of TEST 2: [headers, request, status, body]
sub spoof_cases {
    my @c;
    for my $target (['list-a', 403, $R403, 'u-1', $A, 'admin'],
                    ['list-b', 404, $R404, 'u-1', $B, 'admin'])
    {
        my ($list, $status, $re, @values) = @$target;
        for my $style (qw(canonical lower upper)) {
            push @c, [as('a-other', spoof($_, $style, @values)),
                      post($list, one('p-spoof')), $status, $re]
                for @SUBSETS;
        }

        # each header twice, in two spellings, the second with other values
        push @c, [as('a-other', spoof($_, 'lower', @values),
                             spoof($_, 'upper', 'u-9', $B, 'ADMIN')),
                  post($list, one('p-spoof')), $status, $re]
            for @SUBSETS;
    }

    # the auth sends no role; the client's admin role does not count
    push @c, [as('a-norole', spoof([2], $_, 'u-1', $A, 'admin')),
              post('list-a', one('p-spoof')), 403, $R403]
        for qw(canonical lower upper);

    # a member spoofing another organization and user: written to its own,
    # by itself
    push @c, [as('a-member', 'x-org-id: ' . $B, 'X-ORG-ID: ' . $B,
                 'X-User-Id: u-evil', 'x-user-role: admin'),
              post('list-a', one('p-ok')), 200, added(1)];
    return @c;
}

our @SPOOF = spoof_cases();

# ----------------------------------------------------------------------
# Secrets: a role of this file, with passwords to look for

our $PW_OK      = 'Pw-t071-Ok-Xyzzy-3f9c1e';
our $PW_WRONG   = 'Pw-t071-Wrong-Plugh-8d2a7b';
our $PW_UNREACH = 'Pw-t071-Unreach-Frotz-5e6b0c';
our @SECRETS = ($PW_OK, $PW_WRONG, $PW_UNREACH);

db(<<"_SQL_");
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 't071_secret') THEN
        DROP ROLE t071_secret;
    END IF;
END
\$\$;
CREATE ROLE t071_secret LOGIN INHERIT PASSWORD '$PW_OK';
GRANT leadlist_app TO t071_secret;
_SQL_

END { eval { db('DROP ROLE IF EXISTS t071_secret;') } }

{
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    $ENV{TEST_NGINX_T071_DEAD_PORT} = $s->sockport;
    close $s;
}

our $SECRET_HTTP_CONFIG = $HTTP_CONFIG . <<"_EOC_";
    upstream t071_ok {
        leadlist_pg_server "host=127.0.0.1 port=\$TEST_NGINX_PG_PORT dbname=leadlist user=t071_secret password=$PW_OK";
    }
    upstream t071_wrong {
        leadlist_pg_server "host=127.0.0.1 port=\$TEST_NGINX_PG_PORT dbname=leadlist user=t071_secret password=$PW_WRONG";
    }
    upstream t071_unreach {
        leadlist_pg_server "host=127.0.0.1 port=\$TEST_NGINX_T071_DEAD_PORT dbname=leadlist user=t071_secret password=$PW_UNREACH connect_timeout=2";
    }
_EOC_

sub secret_config {
    my ($upstream) = @_;
    (my $c = $CONFIG) =~ s/leadlist_add_prospects leadlist_db;/leadlist_add_prospects $upstream;/;
    return $c;
}

sub _slurp_file {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub _count { my ($hay, $needle) = @_; my $n = () = $hay =~ /\Q$needle\E/g; return $n }

# --- log_has: TEXT
# After the block's last request, the error log holds TEXT (the reason
# for a failure is logged once; requests in the backoff that follows say
# only that no server is available).
add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    my $want = $block->log_has;
    return if $dry || !defined $want;
    return if ref $block->request && $i < $#{ $block->request };
    my $log = _slurp_file(server_root() . '/logs/error.log');
    Test::More::ok(_count($log, $want) > 0,
                   $block->name . " - the error log has \"$want\"");
});

# --- secrets_checked
# After the block's last request: no password anywhere in the error log
# (written at debug level), and `nginx -T` prints each one exactly as many
# times as the configuration file holds it.
add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    return if $dry || !defined $block->secrets_checked;
    return if ref $block->request && $i < $#{ $block->request };

    my $root = server_root();
    my $log = _slurp_file("$root/logs/error.log");
    my $conf = _slurp_file("$root/conf/nginx.conf");
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    # make test-asan: the sanitizer runtimes must come first here too
    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
        if $ENV{TEST_NGINX_LD_PRELOAD};
    my $dump = `$bin -T -q -p $root/ -c $root/conf/nginx.conf -e $root/logs/nginx-T.log 2>&1`;
    my $name = $block->name;

    Test::More::ok(_count($log, '[debug]') > 0,
                   "$name - the error log was written at debug level");
    for my $pw (@SECRETS) {
        Test::More::is(_count($log, $pw), 0,
                       "$name - password $pw is not in the error log");
        my $in_conf = _count($conf, $pw);
        Test::More::ok($in_conf > 0, "$name - password $pw is in nginx.conf");
        Test::More::is(_count($dump, $pw), $in_conf,
                       "$name - nginx -T shows password $pw only as nginx.conf has it");
    }
});

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $HTTP_CONFIG)
        unless defined $block->http_config;
    $block->set_value(config => $CONFIG) unless defined $block->config;
    $block->set_value(init => 'reset_db()') unless defined $block->init;
    $block->set_value(no_error_log => ['[alert]', '[crit]', '[emerg]',
                                       'exited on signal', '[error]'])
        unless defined $block->no_error_log;
    unless (defined $block->response_headers_like) {
        my $req = $block->request;
        $block->set_value(response_headers_like => ref $req
                          ? [($JSON_HDRS) x @$req] : $JSON_HDRS);
    }
});

run_tests();

__DATA__

=== TEST 1: baseline: a member adds to its list; every other organization's rows are untouched
--- more_headers eval: main::as('a-member')
--- request eval
main::post('list-a', main::one('p-1'))
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check eval
[main::untouched_sql($::A),
 "SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't071-a';"]
--- db_expected eval
[main::untouched_expected($::A), "t071-a\tlist-a\tp-1\tu-1"]



=== TEST 2: identity headers from the client, every combination, three spellings, repeated, with the auth sending its own: never who the caller is
--- more_headers eval
[map { $_->[0] } @::SPOOF]
--- request eval
[map { $_->[1] } @::SPOOF]
--- error_code eval
[map { $_->[2] } @::SPOOF]
--- response_body_like eval
[map { $_->[3] } @::SPOOF]
--- db_check eval
[main::untouched_sql($::A),
 "SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't071-a';",
 "SELECT count(*) FROM tenant.persons WHERE org_id = 't071-a';"]
--- db_expected eval
[main::untouched_expected($::A), "t071-a\tlist-a\tp-ok\tu-1", 1]



=== TEST 3: auth answers with empty, repeated or comma-joined identity headers while the client sends good ones; identity header names in any case from the auth
--- more_headers eval
[main::as('empty-user', 'X-User-Id: u-1'),
 main::as('empty-org', 'X-Org-Id: t071-a'),
 main::as('dup-user', 'X-User-Id: u-2'),
 main::as('dup-org', 'X-Org-Id: t071-a'),
 main::as('list-user', 'X-User-Id: u-1'),
 main::as('list-org', 'X-Org-Id: t071-a'),
 main::as('lc-names', 'X-User-Id: u-evil', 'X-Org-Id: t071-b')]
--- request eval
[(main::post('list-a', main::one('p-shape'))) x 6,
 main::post('list-a', main::one('p-lc'))]
--- error_code eval
[401, 401, 401, 401, 403, 404, 200]
--- response_body_like eval
[$::R401, $::R401ORG, $::R401, $::R401ORG, $::R403, $::R404, main::added(1)]
--- db_check eval
[main::untouched_sql($::A),
 "SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't071-a';"]
--- db_expected eval
[main::untouched_expected($::A), "t071-a\tlist-a\tp-lc\tu-1"]



=== TEST 4: organizations that differ only in case or Unicode normalization are different tenants
--- more_headers eval
[map { main::as($_) } qw(up lo uni-u nfc nfd up lo uni-l nfc)]
--- request eval
[main::post('only-lower', main::one('p-x')),
 main::post('only-upper', main::one('p-x')),
 main::post('only-uni-lower', main::one('p-x')),
 main::post('only-nfd', main::one('p-x')),
 main::post('list-1', main::one('p-x')),
 main::post('list-1', main::one('p-up')),
 main::post('list-1', main::one('p-lo2')),
 main::post('list-1', main::one('p-uni')),
 main::post('list-1', main::one('p-nfc'))]
--- error_code eval
[404, 404, 404, 404, 404, 200, 200, 200, 200]
--- response_body_like eval
[($::R404) x 5, (main::added(1)) x 4]
--- db_check eval
[main::untouched_sql($::UP, $::LO, $::UNIL, $::NFC),
 "SELECT encode(convert_to(org_id, 'UTF8'), 'hex'), person_id FROM tenant.lead_list_persons WHERE person_id IN ('p-uni', 'p-nfc') ORDER BY 2;",
 "SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id IN ('t071-acme', 't071-Acme') ORDER BY org_id COLLATE \"C\", 3;",
 "SELECT org_id, id FROM tenant.persons WHERE org_id IN ('t071-acme', 't071-Acme') ORDER BY org_id COLLATE \"C\", 2;"]
--- db_expected eval
[main::untouched_expected($::UP, $::LO, $::UNIL, $::NFC),
 unpack('H*', main::u8($::NFC)) . "\tp-nfc\n" . unpack('H*', main::u8($::UNIL)) . "\tp-uni",
 "t071-Acme\tlist-1\tp-up\tu-1\nt071-acme\tlist-1\tp-lo\tu-1\nt071-acme\tlist-1\tp-lo2\tu-1",
 "t071-Acme\tp-up\nt071-acme\tp-lo\nt071-acme\tp-lo2"]



=== TEST 5: organization ids with SQL, JSON and LIKE metacharacters are data: each writes its own rows; '%', '_' and an injected OR never reach another's list
--- more_headers eval
[(map { main::as($_) } qw(sqli jsonq bsl pct und)),
 (map { main::as($_) } qw(pct und pct und or1 or1 sqli jsonq bsl))]
--- request eval
[(map { main::post('list-1', main::one("p-$_")) } qw(sqli jsonq bsl pct und)),
 main::post('only-lower', main::one('p-x')),
 main::post('only-lower', main::one('p-x')),
 main::post('list-a', main::one('p-x')),
 main::post('list-a', main::one('p-x')),
 main::post('list-a', main::one('p-x')),
 main::post('list-1', main::one('p-x')),
 main::post('only-upper', main::one('p-x')),
 main::post('list-a', main::one('p-x')),
 main::post('list-b', main::one('p-x'))]
--- error_code eval
[(200) x 5, (404) x 9]
--- response_body_like eval
[(main::added(1)) x 5, ($::R404) x 9]
--- db_check eval
[main::untouched_sql($::SQLI, $::JSONQ, $::BSL, $::PCT, $::UND),
 "SELECT org_id || ' ' || lead_list_id || ' ' || person_id || ' ' || added_by FROM tenant.lead_list_persons WHERE org_id LIKE 't071-%' AND lead_list_id = 'list-1' AND person_id <> 'p-lo' ORDER BY person_id COLLATE \"C\";",
 "SELECT count(*) FROM tenant.persons WHERE org_id LIKE 't071-%' AND id LIKE 'p-%' AND id <> 'p-lo';",
 "SELECT to_regclass('tenant.lead_lists') IS NOT NULL;"]
--- db_expected eval
[main::untouched_expected($::SQLI, $::JSONQ, $::BSL, $::PCT, $::UND),
 CORE::join("\n", "$::BSL list-1 p-bsl u-1", "$::JSONQ list-1 p-jsonq u-1", "$::PCT list-1 p-pct u-1",
                  "$::SQLI list-1 p-sqli u-1", "$::UND list-1 p-und u-1"),
 5, 't']



=== TEST 6: user ids compared exactly, as data: LIKE wildcards, case, a comma, quotes, backslashes, SQL, NULL, Unicode forms; roles that only look like admin
--- more_headers eval
[map { main::as($_) } qw(user-pct user-und user-upper user-u12 user-or user-quote user-bs2 user-u1
                         user-uni-nfd user-uni-up user-null role-dot-i role-dotless role-pct role-semi
                         user-sqli user-json user-bs user-pct user-uni user-null user-u1)]
--- request eval
[main::post('l-u1', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-u12', main::one('p-no')),
 main::post('l-sql', main::one('p-no')),
 main::post('l-json', main::one('p-no')),
 main::post('l-bs', main::one('p-no')),
 main::post('l-pct', main::one('p-no')),
 main::post('l-uni', main::one('p-no')),
 main::post('l-uni', main::one('p-no')),
 main::post('l-null', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-u1', main::one('p-no')),
 main::post('l-sql', main::one('p-sql')),
 main::post('l-json', main::one('p-json')),
 main::post('l-bs', main::one('p-bs')),
 main::post('l-pct', main::one('p-pct')),
 main::post('l-uni', main::one('p-uni')),
 main::post('l-nullstr', main::one('p-nullstr')),
 main::post('l-u1', main::one('p-u1'))]
--- error_code eval
[(403) x 15, (200) x 7]
--- response_body_like eval
[($::R403) x 15, (main::added(1)) x 7]
--- db_check eval
[main::untouched_sql($::USR),
 "SELECT lead_list_id || ' ' || person_id || ' ' || added_by FROM tenant.lead_list_persons WHERE org_id = 't071-users' ORDER BY person_id COLLATE \"C\";"]
--- db_expected eval
[main::untouched_expected($::USR),
 CORE::join("\n", "l-bs p-bs \\", "l-json p-json \"}", "l-nullstr p-nullstr NULL", "l-pct p-pct u%",
                  "l-sql p-sql $::SQLI_USER", "l-u1 p-u1 u1", "l-uni p-uni \x{fc}")]



=== TEST 7: another organization's lists: 404 with the body of a missing list, for a user in their user_ids, for an admin, for a company list
--- more_headers eval
[main::as('a-member'), main::as('a-member'), main::as('a-member'), main::as('a-other'),
 main::as('a-admin'), main::as('a-admin'), main::as('a-member')]
--- request eval
[main::post('list-b', main::one('p-x')),
 main::post('list-b-co', main::one('p-x')),
 main::post('no-such-list', main::one('p-x')),
 main::post('list-b', main::one('p-x')),
 main::post('list-b', main::one('p-x')),
 main::post('list-b-co', main::one('p-x')),
 main::post('list-b', '{"selection":{"searchId":"s-b","selectAll":true,"limit":5}}')]
--- error_code eval
[(404) x 7]
--- response_body_like eval
[($::R404) x 7]
--- response_headers_like eval
[("$::JSON_HDRS\nContent-Length: " . length('{"code":"NOT_FOUND","message":"Lead list not found","requestId":"' . ('0' x 32) . '"}')) x 7]
--- db_check eval
[main::untouched_sql(), "SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't071-a';"]
--- db_expected eval
[main::untouched_expected(), 0]



=== TEST 8: another organization's searches do not exist for the caller, whatever they hold (unusable filters, a selection over the cap)
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', '{"selection":{"searchId":"s-b","ids":["t071-g1"]}}'),
 main::post('list-a', '{"selection":{"searchId":"s-b","selectAll":true,"limit":5}}'),
 main::post('list-a', '{"selection":{"searchId":"s-b-bad","selectAll":true,"limit":5}}'),
 main::post('list-a', '{"selection":{"searchId":"s-b-big","selectAll":true}}'),
 main::post('list-a', '{"selection":{"searchId":"s-missing","selectAll":true}}'),
 main::post('list-a', '{"selection":{"searchId":"s-a-dom","selectAll":true,"limit":5}}')]
--- error_code eval
[(400) x 5, 200]
--- response_body_like eval
[($::NOSEARCH) x 5, main::added(3)]
--- db_check eval
[main::untouched_sql($::A),
 "SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't071-a' ORDER BY 1;"]
--- db_expected eval
[main::untouched_expected($::A), "t071-g1\nt071-g2\nt071-g3"]



=== TEST 9: bulk selection copies only the catalogue: never another organization's tenant persons, their members, or their values
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', '{"selection":{"searchId":"s-a-any","ids":["t071-gx","t071-g1"]}}'),
 main::post('list-a', '{"selection":{"searchId":"s-a-bsecret","selectAll":true,"limit":10}}'),
 main::post('list-a', '{"selection":{"searchId":"s-a-bsecret","ids":["t071-g1","t071-gx"]}}')]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[main::added(1, 0, 1), main::added(0), main::added(0, 0, 2)]
--- db_check eval
[main::untouched_sql($::A),
 "SELECT id, profile FROM tenant.persons WHERE org_id = 't071-a' ORDER BY 1;",
 "SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't071-a' ORDER BY 1;"]
--- db_expected eval
[main::untouched_expected($::A),
 qq(t071-g1\t{"id": "t071-g1", "firstName": "G1", "companyDomain": "t071.example"}),
 't071-g1']



=== TEST 10: a direct write of a person another organization holds: the caller's copy only
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', '{"persons":[{"id":"t071-g1","secret":"a-version"},{"id":"t071-gx"}]}')]
--- error_code eval
[200]
--- response_body_like eval
[main::added(2)]
--- db_check eval
[main::untouched_sql($::A),
 "SELECT id, profile FROM tenant.persons WHERE org_id = 't071-a' ORDER BY 1;"]
--- db_expected eval
[main::untouched_expected($::A),
 qq(t071-g1\t{"id": "t071-g1", "secret": "a-version"}\nt071-gx\t{"id": "t071-gx"})]



=== TEST 11: secrets: a request served over a connection that logged in with a password: the password is nowhere in the error log (debug), nginx -T shows only the file's copy
--- http_config eval: $::SECRET_HTTP_CONFIG
--- config eval: main::secret_config('t071_ok')
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', main::one('p-s1')), main::post('list-a', main::one('p-s2'))]
--- error_code eval
[200, 200]
--- response_body_like eval
[main::added(1), main::added(1)]
--- no_error_log eval
['[alert]', '[crit]', '[emerg]', 'exited on signal', '[error]', @::SECRETS]
--- secrets_checked



=== TEST 12: secrets: a wrong password: 503, the log says why, never with the password
--- http_config eval: $::SECRET_HTTP_CONFIG
--- config eval: main::secret_config('t071_wrong')
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', main::one('p-s1')), main::post('list-a', main::one('p-s2'))]
--- error_code eval
[503, 503]
--- response_body_like eval
[(main::err_re('SERVICE_UNAVAILABLE', 'Service temporarily unavailable, retry later')) x 2]
--- error_log eval
qr/password authentication failed|no PostgreSQL server of upstream "t071_wrong" is available/
--- log_has: password authentication failed for user "t071_secret"
--- no_error_log eval
['[alert]', '[crit]', '[emerg]', 'exited on signal', @::SECRETS]
--- secrets_checked



=== TEST 13: secrets: an unreachable server: 503, the log says why, never with the password
--- http_config eval: $::SECRET_HTTP_CONFIG
--- config eval: main::secret_config('t071_unreach')
--- more_headers eval: main::as('a-member')
--- request eval
[main::post('list-a', main::one('p-s1')), main::post('list-a', main::one('p-s2'))]
--- error_code eval
[503, 503]
--- response_body_like eval
[(main::err_re('SERVICE_UNAVAILABLE', 'Service temporarily unavailable, retry later')) x 2]
--- error_log eval
qr/could not connect: Connection refused|no PostgreSQL server of upstream "t071_unreach" is available/
--- log_has: could not connect: Connection refused
--- no_error_log eval
['[alert]', '[crit]', '[emerg]', 'exited on signal', @::SECRETS]
--- secrets_checked
