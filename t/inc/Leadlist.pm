package Leadlist;

# Shared pieces of the module's Test::Nginx files: the upstream and the
# auth stand-in every block uses, fixtures of one organization per test
# file, and the database checks that run after each response:
#
#   --- db_check
#   SELECT ... ;            (run as superuser after the request)
#   --- db_expected
#   expected psql -At output
#
#   --- db_unchanged
#   (no value needed)       the whole database after the block's last
#                           request is what it was after the block's init
#                           (db_snapshot(); endpoint_defaults() files only)
#
# The auth stand-in reads "Authorization: Bearer user=U;org=O;role=R"
# and answers 204 with X-User-Id/X-Org-Id/X-User-Role, or 401 without a
# user; "status=N" makes it answer N (200 302 401 403 404 500 503).  It is plain nginx, reached through
# proxy_pass as a real auth service would be.

use strict;
use warnings;

use lib 't/db/lib';
use LeadlistDbTest qw(su su_try lit);
use Test::More ();
use Exporter 'import';

our @EXPORT = qw($http_config $auth_locations endpoint endpoint_defaults
                 db db_fixture db_snapshot jstr err_re bad
                 err u8 user_u_of add_to_l sent error_log_lines
                 error_log_count request_id_of $rid_log_format
                 $rid_access_log rid_logged pooled_backends backend_gone
                 boom_on boom_off);

our $http_config = <<'_EOC_';
    upstream leadlist_db {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
        leadlist_pg_keepalive 4;
    }

    map $http_authorization $ll_user { "~user=(?<v>[^;]*)" $v; }
    map $http_authorization $ll_org { "~org=(?<v>[^;]*)" $v; }
    map $http_authorization $ll_role { "~role=(?<v>[^;]*)" $v; }
    map $http_authorization $ll_status { "~status=(?<v>[0-9]+)" $v; default 204; }

    # 4xx lines at info, so that a block's "no [error]" still means no
    # unexpected error; t/095 checks the default, error
    leadlist_client_error_log_level info;
_EOC_

our $auth_locations = <<'_EOC_';
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_verify;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location = /_verify {
        if ($ll_status = 200) { return 200 "ok"; }
        if ($ll_status = 302) { return 302 /elsewhere; }
        if ($ll_status = 401) { return 401; }
        if ($ll_status = 403) { return 403; }
        if ($ll_status = 404) { return 404; }
        if ($ll_status = 500) { return 500; }
        if ($ll_status = 503) { return 503; }
        if ($ll_user = "") {
            return 401;
        }
        add_header X-User-Id $ll_user;
        add_header X-Org-Id $ll_org;
        add_header X-User-Role $ll_role;
        return 204;
    }
_EOC_


# Under valgrind (make test-valgrind) nginx runs many times slower: the
# client waits up to 60 s, and the pool up to 30 s for a connection (a
# SCRAM login alone can take longer than the default 2 s queue timeout).
# One substitution adds the pool's two directives to every upstream of the
# module that does not set them: in $http_config here, and in each block's
# own http_config.  For every file that uses this module, once, as it is
# loaded (after Test::Nginx::Socket, as each of them loads it).
sub valgrind_slack {
    my ($c) = @_;
    my $slack = "\n        leadlist_pg_queue 256 timeout=30s;"
                . "\n        leadlist_pg_connect_timeout 30s;";
    $c =~ s{(upstream\s+[^\s{]+\s*\{)([^}]*\})}{
        my ($head, $body) = ($1, $2);
        $body =~ /leadlist_pg_server/
            && $body !~ /leadlist_pg_(?:queue|connect_timeout)\b/
            ? "$head$slack$body" : "$head$body"
    }ge;
    return $c;
}

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    Test::Nginx::Socket::timeout(60) if defined &Test::Nginx::Socket::timeout;
    $http_config = valgrind_slack($http_config);

    # files that drive nginx themselves (t/041, t/047) load this module
    # for its helpers only, without Test::Nginx::Socket
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        my $c = $block->http_config;
        $block->set_value(http_config => valgrind_slack($c)) if defined $c;
    }) if defined &Test::Nginx::Socket::add_block_preprocessor;
}


# --- logged_with_request_id: TEXT
# The error log has a line with TEXT and the requestId of the response
# body (for each response that has one).
Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    my $want = $block->logged_with_request_id;
    return if $dry || !defined $want;
    my $id = request_id_of($body);
    return unless defined $id;
    my $found = grep { index($_, $id) >= 0 } error_log_lines(qr/\Q$want\E/);
    Test::More::ok($found, $block->name . " - error log has \"$want\" with"
                           . " the request id $id");
}) if defined &Test::Nginx::Socket::add_response_body_check;


# The endpoint location as nginx.conf.example has it, plus extra lines.
sub endpoint {
    my ($extra) = @_;
    $extra //= '';
    return $auth_locations . <<"_EOC_";
    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id \$list_id;
        leadlist_auth_request /_auth;
$extra
    }
_EOC_
}


# What a block of an endpoint test file gets unless it says otherwise:
# $http_config, the endpoint location, and with
#
#   init => CODE   this --- init (e.g. 'reset_db()')
#   json => 1      a JSON answer with an X-Request-Id (pipelined blocks,
#                  which have several answers, check their own)
sub endpoint_defaults {
    my (%o) = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        $block->set_value(http_config => $http_config)
            unless defined $block->http_config;
        $block->set_value(config => endpoint()) unless defined $block->config;
        $block->set_value(init => $o{init})
            if defined $o{init} && !defined $block->init;
        # the snapshot --- db_unchanged compares with, taken after init
        $block->set_value(init => ($block->init // '')
                                  . ';$Leadlist::BEFORE = Leadlist::db_snapshot();')
            if defined $block->db_unchanged;
        # one for each request of a block that sends several
        my $json = "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}\n";
        my $req = $block->request;
        $block->set_value(response_headers_like =>
                          ref $req eq 'ARRAY' ? [($json) x @$req] : $json)
            if $o{json}
               && !defined $block->response_headers_like
               && !defined $block->response_headers
               && !defined $block->pipelined_requests;
    });
}


sub db { return su(@_) }


# The whole database as text: for every table of every schema but the
# catalogs, its name, its row count and an md5 of its rows in order.  Two
# snapshots are equal when no row was added, removed or changed anywhere.
sub db_snapshot {
    my $tables = su("SELECT format('%I.%I', table_schema, table_name)"
                    . " FROM information_schema.tables"
                    . " WHERE table_type = 'BASE TABLE' AND table_schema"
                    . " NOT IN ('pg_catalog', 'information_schema')"
                    . " ORDER BY 1;");
    my $sql = join "\nUNION ALL\n", map {
        "SELECT " . lit($_->[0]) . ", count(*), md5(coalesce(string_agg("
        . "x::text, '|' ORDER BY x::text), '')) FROM $_->[0] AS x"
    } @$tables;
    return join "\n", map { join "\t", @$_ } @{ su("$sql\nORDER BY 1;") };
}

our $BEFORE;


# A JSON string as the module writes it (ngx_escape_json).
sub jstr {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord $1)/ge;
    return qq("$s");
}


# The exact error body: code, message, for a 400 its [field, message]
# details; only the requestId may vary.
sub err_re {
    my ($code, $msg, $details) = @_;
    my $s = '{"code":' . jstr($code) . ',"message":' . jstr($msg);
    if ($details) {
        $s .= ',"details":['
            . CORE::join(',', map { '{"field":' . jstr($_->[0])
                                    . ',"message":' . jstr($_->[1]) . '}' }
                              @$details)
            . ']';
    }
    return qr/^\Q$s\E,"requestId":"[0-9a-f]{32}"\}\z/;
}

# 400 "Request body validation failed" with these [field, message] details
sub bad { return err_re('BAD_REQUEST', 'Request body validation failed', [@_]) }

sub err { return err_re(@_) }

# UTF-8 bytes of a Perl string
sub u8 { my ($s) = @_; utf8::encode($s); return $s }


# A fresh organization: its rows removed, then lists (and searches) made.
sub db_fixture {
    my ($org, %o) = @_;
    my $q = lit($org);
    my $sql = join "\n",
        "DELETE FROM tenant.lead_list_persons WHERE org_id = $q;",
        "DELETE FROM tenant.persons WHERE org_id = $q;",
        "DELETE FROM tenant.lead_lists WHERE org_id = $q;",
        "DELETE FROM tenant.searches WHERE org_id = $q;";

    for my $l (@{ $o{lists} // [] }) {
        my ($id, $type, @users) = @$l;
        my $arr = '{' . join(',', map { '"' . $_ . '"' } @users) . '}';
        $sql .= "\nINSERT INTO tenant.lead_lists (org_id, id, name, type,"
              . " user_ids) VALUES ($q, " . lit($id) . ", " . lit($id)
              . ", " . lit($type) . ", " . lit($arr) . ");";
    }

    for my $s (@{ $o{searches} // [] }) {
        my ($id, $filters) = @$s;
        $sql .= "\nINSERT INTO tenant.searches (org_id, id, user_id, filters)"
              . " VALUES ($q, " . lit($id) . ", 'u', " . lit($filters)
              . "::jsonb);";
    }

    $sql .= "\n$o{sql}" if $o{sql};

    su($sql);
}


# A trigger that fails the insert of $org's person "p-boom" into a list
# ("$org boom in tenant.lead_list_persons"): a statement that fails after
# its work began, and rolls back.  boom_off($org) removes it again.
sub boom_on {
    my ($org) = @_;
    db(<<"_SQL_");
CREATE SCHEMA IF NOT EXISTS ${org}_trig;
CREATE OR REPLACE FUNCTION ${org}_trig.boom() RETURNS trigger
    LANGUAGE plpgsql AS \$\$
BEGIN
    RAISE EXCEPTION '$org boom in tenant.lead_list_persons';
END
\$\$;
DROP TRIGGER IF EXISTS ${org}_boom ON tenant.lead_list_persons;
CREATE TRIGGER ${org}_boom BEFORE INSERT ON tenant.lead_list_persons
    FOR EACH ROW
    WHEN (NEW.org_id = '$org' AND NEW.person_id = 'p-boom')
    EXECUTE FUNCTION ${org}_trig.boom();
_SQL_
}

sub boom_off {
    my ($org) = @_;
    db("DROP TRIGGER IF EXISTS ${org}_boom ON tenant.lead_list_persons;\n"
       . "DROP SCHEMA IF EXISTS ${org}_trig CASCADE;");
}


# The organization of a file whose requests are user u's, adding to its
# one person list "l" (made fresh): a block's requests get u's headers
# unless it has more_headers of its own.  Returns those headers.
sub user_u_of {
    my ($org) = @_;
    db_fixture($org, lists => [['l', 'person', 'u']]);
    my $h = "Authorization: Bearer user=u;org=$org\n"
          . "Content-Type: application/json";
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        $block->set_value(more_headers => $h)
            unless defined $block->more_headers;
    });
    return $h;
}

# the request that adds the persons of these ids to list "l"
sub add_to_l {
    return "POST /api/lead-lists/l/add-prospects\n"
           . '{"persons":[' . CORE::join(',', map { qq({"id":"$_"}) } @_)
           . ']}';
}

# the 200 of a request that adds one new prospect
our $ONE_ADDED = '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}';

# The debug line of a statement sent as request $n of its connection,
# $prepared 1 when the connection had prepared the statement before.
sub sent {
    my ($n, $prepared) = @_;
    return qr/leadlist send fd:\d+ backend:\d+ request:$n prepared:$prepared/;
}


# The lines of the error log so far that match $re, and how many.
sub error_log_lines {
    my ($re) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or die $!;
    return grep { /$re/ } <$fh>;
}

sub error_log_count { return scalar(my @l = error_log_lines(@_)) }


# The requestId of an answer's JSON body, or undef.
sub request_id_of {
    my ($body) = @_;
    return ($body // '') =~ /"requestId":"([0-9a-f]{32})"/ ? $1 : undef;
}


# A block's http_config and location lines that log each request's
# $request_id and X-Request-Id header to logs/rid.log, for rid_logged.
our $rid_log_format =
    "    log_format rid 'rid=\$request_id hdr=\$sent_http_x_request_id';\n";
our $rid_access_log = "    access_log logs/rid.log rid;\n";

# Whether logs/rid.log has request $id's line: its $request_id and its
# X-Request-Id both $id.  nginx writes it as the request ends, after the
# answer: up to a second's wait.
sub rid_logged {
    my ($id) = @_;
    for (1 .. 20) {
        if (open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/rid.log") {
            while (my $l = <$fh>) {
                return 1 if $l =~ /^rid=\Q$id\E hdr=\Q$id\E$/;
            }
            close $fh;
        }
        select undef, undef, undef, 0.05;
    }
    return 0;
}


# The backend pids of the module's connections (application_name
# nginx-leadlist), in pg_stat_activity.
sub pooled_backends {
    return map { $_->[0] } @{ su("SELECT pid FROM pg_stat_activity"
                                 . " WHERE application_name = 'nginx-leadlist'") };
}

# Whether the backend $pid has exited, waiting up to 5 s for it.
sub backend_gone {
    my ($pid) = @_;
    for (1 .. 100) {
        return 1 unless su("SELECT count(*) FROM pg_stat_activity"
                           . " WHERE pid = $pid")->[0][0];
        select(undef, undef, undef, 0.05);
    }
    return 0;
}


Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

    return if $dry_run;

    # with several requests, the checks run after the last one
    return if ref $block->request && $req_idx < $#{ $block->request };

    if (defined $block->db_unchanged) {
        my $after = db_snapshot();
        Test::More::ok(defined $BEFORE && $after eq $BEFORE,
                       $block->name . " - db_unchanged")
            or Test::More::diag("before:\n" . ($BEFORE // 'none')
                                . "\nafter:\n$after");
    }

    return if !defined $block->db_check;

    my @checks = ref $block->db_check ? @{ $block->db_check }
                                      : ($block->db_check);
    my @expect = ref $block->db_expected ? @{ $block->db_expected }
                                         : ($block->db_expected // '');

    for my $i (0 .. $#checks) {
        my $r = su_try($checks[$i]);
        my $got = $r->{ok} ? $r->{out} : "SQL failed: $r->{err}";
        $got =~ s/\s+\z//;
        (my $want = $expect[$i] // '') =~ s/\s+\z//;
        Test::More::is($got, $want, $block->name . " - db_check $i");
    }
}) if defined &Test::Nginx::Socket::add_response_body_check;

1;
