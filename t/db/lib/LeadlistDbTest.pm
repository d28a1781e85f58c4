package LeadlistDbTest;

# Helpers for the database tests in t/db: run SQL through psql (no DBI
# needed) as the superuser or as the module's role, with connection details
# from the environment util/pg.sh writes (DIR/env).

use strict;
use warnings;
use utf8;

use Exporter 'import';
use File::Temp qw(tempfile);
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our @EXPORT = qw(pg_skip_reason su su_try app app_try lit jlit add_prospects
                 add_prospects_sql spawn_psql reap_psql open_session
                 db_snapshot wait_until race_sessions db_test_start
                 remove_at_end failing_insert_sql);

my $json = JSON::PP->new->utf8->canonical;

my $psql = -x '/usr/lib/postgresql/15/bin/psql'
    ? '/usr/lib/postgresql/15/bin/psql' : 'psql';


# Why these tests cannot run, or undef when they can.
sub pg_skip_reason {
    for my $v (qw(TEST_NGINX_PG_PORT TEST_NGINX_PG_PASSWORD
                  TEST_NGINX_PG_SUPER_PASSWORD))
    {
        return "$v is not set: start a cluster (util/pg.sh start DIR) and"
               . " source DIR/env"
            unless defined $ENV{$v} && length $ENV{$v};
    }
    return undef;
}


# The start of a t/db file: without a cluster the whole file is skipped;
# test names may hold any character (UTF-8 output).  Returns the tag of
# this run, "$name-PID-TIME", that the ids the file makes start with, so
# that runs side by side (and leftovers of a killed one) never meet.
sub db_test_start {
    my ($name) = @_;
    require Test::More;
    if (my $why = pg_skip_reason()) {
        Test::More::plan(skip_all => $why);
    }
    binmode Test::More->builder->$_, ':encoding(UTF-8)'
        for qw(output failure_output todo_output);
    return "$name-$$-" . time;
}


# What remove_at_end() removes, and the process that asked (not a child
# that forked from it).
my @remove;

# At the end of the file, however it ends: drops these schemas, deletes
# every row of these organizations from the tenant tables and the
# catalogue rows whose id starts with "$tag-".  Called before the file
# makes them, so that a set-up that fails half-way is removed too.
sub remove_at_end {
    my ($tag, %o) = @_;
    push @remove, { pid => $$, tag => $tag, orgs => $o{orgs} // [],
                    schemas => $o{schemas} // [] };
}

END {
    local $?;
    for my $r (grep { $_->{pid} == $$ } @remove) {
        my $in = join ', ', map { lit($_) } @{ $r->{orgs} };
        my $sql = join '',
            (map { "DROP SCHEMA IF EXISTS $_ CASCADE;\n" } @{ $r->{schemas} }),
            (map { "DELETE FROM tenant.$_ WHERE org_id IN ($in);\n" }
                 $in eq '' ? ()
                           : qw(lead_list_persons idempotency_keys persons
                                searches lead_lists)),
            'DELETE FROM global.persons WHERE id LIKE ' . lit("$r->{tag}-%")
            . ";\n";
        eval { su($sql); 1 } or warn "cleanup failed: $@";
    }
}


# SQL that makes the insert of person $person into a list of organization
# $org fail with SQLSTATE XX001 ("forced failure"), after the statement's
# work began: a trigger in schema $schema, which DROP SCHEMA ... CASCADE
# removes again.
sub failing_insert_sql {
    my ($schema, $org, $person) = @_;
    my ($o, $p) = (lit($org), lit($person));
    return <<SQL;
CREATE SCHEMA $schema;
CREATE FUNCTION $schema.boom() RETURNS trigger LANGUAGE plpgsql
    AS \$\$ BEGIN RAISE EXCEPTION 'forced failure' USING ERRCODE = 'XX001'; END \$\$;
CREATE TRIGGER ${schema}_boom BEFORE INSERT ON tenant.lead_list_persons
    FOR EACH ROW WHEN (NEW.org_id = $o AND NEW.person_id = $p)
    EXECUTE FUNCTION $schema.boom();
SQL
}


# An SQL string literal; undef is NULL.  standard_conforming_strings is on
# (the default since 9.1), so only quotes need doubling.
sub lit {
    my ($s) = @_;
    return 'NULL' unless defined $s;
    $s =~ s/'/''/g;
    return "'$s'";
}


# A jsonb literal of a Perl structure, or of a string that is JSON already.
sub jlit {
    my ($v) = @_;
    my $text = ref $v ? $json->encode($v) : $v;
    utf8::decode($text) if ref $v;
    return lit($text) . '::jsonb';
}


sub _conn_env {
    my ($who) = @_;
    return (
        PGHOST     => $ENV{TEST_NGINX_PG_HOST} // '127.0.0.1',
        PGPORT     => $ENV{TEST_NGINX_PG_PORT},
        PGDATABASE => $ENV{TEST_NGINX_PG_DB} // 'leadlist',
        PGUSER     => $who eq 'su' ? 'postgres'
                                   : ($ENV{TEST_NGINX_PG_USER} // 'leadlist_app'),
        PGPASSWORD => $who eq 'su' ? $ENV{TEST_NGINX_PG_SUPER_PASSWORD}
                                   : $ENV{TEST_NGINX_PG_PASSWORD},
        PGCONNECT_TIMEOUT => 10,
        PGAPPNAME  => "leadlist-t-db-$$",
    );
}


# Starts psql on a script in the background; returns a handle for
# reap_psql.  $who is 'su' or 'app'.
sub spawn_psql {
    my ($who, $sql, %opt) = @_;

    my ($in, $infile) = tempfile('leadlist-t-XXXXXX', TMPDIR => 1,
                                 UNLINK => 1);
    binmode $in, ':encoding(UTF-8)';
    print $in $sql;
    close $in;

    my (undef, $outfile) = tempfile('leadlist-t-XXXXXX', TMPDIR => 1,
                                    UNLINK => 1);
    my (undef, $errfile) = tempfile('leadlist-t-XXXXXX', TMPDIR => 1,
                                    UNLINK => 1);

    my %env = _conn_env($who);
    $env{PGOPTIONS} = '-c client_min_messages=' . ($opt{messages} // 'warning');

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        @ENV{keys %env} = values %env;
        delete @ENV{qw(PGSERVICE PGSSLMODE PGSERVICEFILE PGPASSFILE)};
        open STDIN,  '<', $infile  or POSIX::_exit(127);
        open STDOUT, '>', $outfile or POSIX::_exit(127);
        open STDERR, '>', $errfile or POSIX::_exit(127);
        exec $psql, qw(-X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose),
             '-F', "\t"
            or POSIX::_exit(127);
    }

    return { pid => $pid, out => $outfile, err => $errfile, sql => $sql };
}


sub _slurp {
    my ($file) = @_;
    open my $fh, '<:encoding(UTF-8)', $file or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}


# Waits for a spawn_psql handle; returns { ok, rows, out, err, sqlstate }.
sub reap_psql {
    my ($h) = @_;

    waitpid $h->{pid}, 0;
    my $rc = $? >> 8;
    my $out = _slurp($h->{out});
    my $err = _slurp($h->{err});
    unlink $h->{out}, $h->{err};

    my @rows = map { [ split /\t/, $_, -1 ] } grep { length } split /\n/, $out;
    my ($state) = $err =~ /^(?:psql:\S+ )?ERROR:\s+([0-9A-Z]{5}):/m;

    return { ok => $rc == 0, rows => \@rows, out => $out, err => $err,
             sqlstate => $state // '' };
}


sub su_try  { return reap_psql(spawn_psql('su',  @_)) }
sub app_try { return reap_psql(spawn_psql('app', @_)) }


# As the superuser or the module's role; dies on error, returns the rows.
sub su {
    my $r = su_try(@_);
    die "SQL failed as superuser:\n$_[0]\n$r->{err}" unless $r->{ok};
    return $r->{rows};
}

sub app {
    my $r = app_try(@_);
    die "SQL failed as leadlist_app:\n$_[0]\n$r->{err}" unless $r->{ok};
    return $r->{rows};
}


# The statement the module sends, as leadlist_app.  $body is a Perl
# structure or a JSON string; flags (default 0: 1 = report, 2 = dry run),
# key (default none) and ttl (default 86400) are the module's $7-$9 (undef
# given explicitly is NULL).
# Returns { outcome, added, selected, response, replayed, ok, err,
# sqlstate }: psql's text, so NULL is '' and booleans are 't'/'f'.
sub add_prospects_sql {
    my (%a) = @_;
    return sprintf 'SELECT outcome, added_count, selected_count, response,'
        . ' replayed'
        . ' FROM leadlist.add_prospects(%s::text, %s::text, %s::boolean,'
        . ' %s::text, %s, %s::integer, %s::integer, %s::text, %s::integer);'
        . "\n",
        lit($a{org}), lit($a{user}),
        (defined $a{admin} ? ($a{admin} ? "'true'" : "'false'") : 'NULL'),
        lit($a{list}), jlit($a{body}), $a{max} // 1000,
        _num_or_null(\%a, 'flags', 0), lit($a{key}), _num_or_null(\%a, 'ttl', 86400);
}

# a number argument: its default when not given, NULL when given as undef
sub _num_or_null {
    my ($a, $name, $default) = @_;
    return $default unless exists $a->{$name};
    return $a->{$name} // 'NULL';
}

sub add_prospects {
    my $r = app_try(add_prospects_sql(@_));
    my $row = $r->{rows}[0] || [];
    return { %$r, outcome => $row->[0] // '', added => $row->[1],
             selected => $row->[2], response => $row->[3],
             replayed => $row->[4] };
}


# A psql session kept open: print SQL to the returned handle, close it to
# end the session.  Its query output is discarded.
sub open_session {
    my ($who) = @_;
    my %env = _conn_env($who);
    local @ENV{keys %env} = values %env;
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open my $fh, '|-', $psql, qw(-X -q -A -t -v ON_ERROR_STOP=1 -o /dev/null)
        or die "psql: $!";
    binmode $fh, ':encoding(UTF-8)';
    $fh->autoflush(1);
    return $fh;
}


# The whole content of the tables the endpoint reads or writes, one digest
# per table (every column, rows in a fixed order): two snapshots are equal
# when nothing was stored, updated or deleted in between.
sub db_snapshot {
    my @t = qw(global.persons tenant.lead_lists tenant.searches tenant.persons
               tenant.lead_list_persons tenant.idempotency_keys);
    my $sql = join "\nUNION ALL\n", map {
        "SELECT '$_', count(*), md5(coalesce(string_agg(t::text, E'\\n'"
        . " ORDER BY t::text COLLATE \"C\"), '')) FROM $_ AS t"
    } @t;
    return { map { $_->[0] => "$_->[1] rows, $_->[2]" } @{ su("$sql;\n") } };
}


# Runs a query returning one boolean (as the superuser) until it returns
# true, for up to 10 s; returns whether it did.
sub wait_until {
    my ($sql) = @_;
    for (1 .. 200) {
        return 1 if su("$sql;\n")->[0][0] eq 't';
        Time::HiRes::sleep(0.05);
    }
    return 0;
}


# Runs each SQL script in its own psql session as leadlist_app, each in one
# transaction, all released together from a barrier (an advisory lock the
# sessions wait for), so that they overlap.  Returns their reap_psql
# results in order, or dies when the sessions did not all reach the
# barrier.
my $race_key = $$ % 2000000000;

sub race_sessions {
    my (@sqls) = @_;

    my $ctl = open_session('su');
    print $ctl "SELECT pg_advisory_lock(7100, $race_key);\n";
    my $waiting = "FROM pg_locks WHERE locktype = 'advisory'"
                . " AND classid = 7100 AND objid = $race_key AND NOT granted";
    wait_until("SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory'"
               . " AND classid = 7100 AND objid = $race_key AND granted")
        or die 'race: the barrier lock was not taken';

    my @h = map {
        spawn_psql('app', "BEGIN;\nSELECT pg_advisory_xact_lock_shared(7100, $race_key);\n"
                          . $_ . "COMMIT;\n")
    } @sqls;

    my $all = wait_until("SELECT count(*) = " . scalar(@sqls) . " $waiting");
    print $ctl "SELECT pg_advisory_unlock(7100, $race_key);\n";
    close $ctl;
    my @r = map { reap_psql($_) } @h;
    die 'race: the sessions did not all wait at the barrier' unless $all;
    return @r;
}

1;
