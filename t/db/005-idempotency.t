#!/usr/bin/perl
#
# Idempotency-Key (SPEC 1.6) in leadlist.add_prospects: the first request
# with a key runs and its outcome is recorded with its work; the same key
# with the same list, body and flags replays it and changes nothing; with
# anything else it is a mismatch; while the first has not committed, the
# answer is idempotency_in_progress at once; errors are not recorded; keys
# are the caller's (organization and user), expire, and the table stays
# bounded.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use LeadlistDbTest;

my $tag  = db_test_start('t005');
my $A    = "$tag-a";
my $B    = "$tag-b";
my $dom  = "$tag.example";
my $trig = "t005_$$";
my ($a_, $b_) = (lit($A), lit($B));

remove_at_end($tag, orgs => [$A, $B, "$tag-c"], schemas => [$trig]);

su('INSERT INTO global.persons (id, profile) VALUES '
   . join(', ', map { sprintf "(%s, %s)", lit("$tag-g$_"),
                          jlit({ title => 'CTO', companyDomain => $dom }) } 1 .. 5)
   . ";\n"
   . "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids) VALUES"
   . " ($a_, 'L', 'l', 'person', '{u1,u2}'), ($a_, 'L2', 'l', 'person', '{u1,u2}'),"
   . " ($a_, 'CL', 'c', 'company', '{u1}'), ($b_, 'L', 'l', 'person', '{u1}');\n"
   . "INSERT INTO tenant.searches (org_id, id, filters) VALUES"
   . " ($a_, 'S', " . jlit({ companyDomains => [$dom] }) . "),"
   . " ($a_, 'BAD', '{\"jobTitles\": [\"CTO\"]}');\n");

my $k = 0;
sub key { return "$tag-key-" . ++$k }

sub call { return add_prospects(org => $A, user => 'u1', admin => 0, list => 'L', @_) }

sub answer { my ($r) = @_; return [ @$r{qw(outcome added selected response replayed)} ] }

sub record_of {
    my ($org, $user, $key) = @_;
    return su(sprintf "SELECT outcome, added_count, coalesce(selected_count::text, ''),"
              . " coalesce(response, ''), encode(fingerprint, 'hex'), expires_at"
              . " FROM tenant.idempotency_keys WHERE org_id = %s AND user_id = %s"
              . " AND key = %s;\n", lit($org), lit($user), lit($key));
}

sub P { return { persons => [ map { { id => $_ } } @_ ] } }


subtest 'replay: the recorded answer, and nothing else done' => sub {
    my $key = key();
    my $first = call(body => P('r1', 'r2', 'r1'), key => $key);
    is_deeply answer($first),
        [ 'ok', 2, 2, '{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}', 'f' ],
        'the first request runs' or diag $first->{err};
    is scalar @{ record_of($A, 'u1', $key) }, 1, 'and is recorded';

    my $before = db_snapshot();
    my $again = call(body => P('r1', 'r2', 'r1'), key => $key);
    is_deeply answer($again), [ @{ answer($first) }[0 .. 3], 't' ],
        'the retry gets the same answer, replayed';
    is_deeply db_snapshot(), $before, 'and changes nothing';

    # the list changes meanwhile: a replay still answers what the first
    # request did, and does not add again
    su("DELETE FROM tenant.lead_list_persons WHERE org_id = $a_ AND person_id = 'r1';\n");
    $before = db_snapshot();
    is_deeply answer(call(body => P('r1', 'r2', 'r1'), key => $key)),
        [ @{ answer($first) }[0 .. 3], 't' ], 'after the list changed: still the recorded answer';
    is_deeply db_snapshot(), $before, 'and r1 is not added again';
    is call(body => P('r1', 'r2', 'r1'))->{added}, 1, '(without the key, r1 is added again)';

    my $rk = key();
    my $rep = call(body => { selection => { searchId => 'S', ids => [ "$tag-g1", "$tag-none" ] } },
                   key => $rk, flags => 1);
    like $rep->{response}, qr/"notMatched":\["\Q$tag\E-none"\]\}$/, 'a report';
    is_deeply answer(call(body => { selection => { searchId => 'S',
                                                   ids => [ "$tag-g1", "$tag-none" ] } },
                          key => $rk, flags => 1)),
        [ @{ answer($rep) }[0 .. 3], 't' ], 'is replayed whole';
};

subtest 'the same body means the same JSON value (jsonb-equal)' => sub {
    my $key = key();
    my $r = call(body => '{"persons": [{"id": "j1", "a": 1, "b": [1, 2]}]}', key => $key);
    is $r->{replayed}, 'f', 'the first request runs';
    is call(body => '{"persons":[{"b":[1,2],"a":1,"id":"j1"}]}', key => $key)->{replayed}, 't',
        'member order and whitespace do not matter';
    is call(body => '{"persons":[{"b":[2,1],"a":1,"id":"j1"}]}', key => $key)->{outcome},
        'idempotency_mismatch', 'array order does';
    is call(body => '{"persons":[{"b":[1,2],"a":1.0,"id":"j1"}]}', key => $key)->{outcome},
        'idempotency_mismatch', 'numbers must be spelled alike (documented)';
};

subtest 'mismatch: another list, body or flags' => sub {
    my $key = key();
    my $first = call(body => P('m1'), key => $key);
    is $first->{added}, 1, 'the first request runs';
    my $before = db_snapshot();
    my %other = (
        'another list'          => { list => 'L2', body => P('m1') },
        'another body'          => { body => P('m1', 'm2') },
        'the report asked for'  => { body => P('m1'), flags => 1 },
        'a dry run'             => { body => P('m1'), flags => 2 },
    );
    for my $name (sort keys %other) {
        is_deeply answer(call(%{ $other{$name} }, key => $key)),
            [ 'idempotency_mismatch', 0, '', '', 'f' ], "$name: idempotency_mismatch";
    }
    is_deeply db_snapshot(), $before, 'no mismatch changed anything';
    is_deeply answer(call(body => P('m1'), key => $key)), [ @{ answer($first) }[0 .. 3], 't' ],
        'the record still replays the first answer';
    is_deeply answer(call(body => P('m1'), key => $key, flags => 4)),
        [ @{ answer($first) }[0 .. 3], 't' ], 'flag bits beyond 1 and 2 are not part of it';
};

subtest 'keys are the caller\'s: scoped by organization and by user' => sub {
    my $key = key();
    is call(body => P('s1'), key => $key)->{added}, 1, 'u1 in A';
    my $u2 = call(user => 'u2', body => P('s1', 's2'), key => $key);
    is_deeply [ @$u2{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ],
        'the same key from u2 in the same organization runs (another body, no mismatch)';
    my $b = add_prospects(org => $B, user => 'u1', admin => 0, list => 'L', body => P('s1'),
                          key => $key);
    is_deeply [ @$b{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ],
        'the same key from the same user id in another organization runs';
    is call(user => 'u2', body => P('s1', 's2'), key => $key)->{replayed}, 't', 'u2 replays its own';
    is add_prospects(org => $B, user => 'u1', admin => 0, list => 'L', body => P('s1'),
                     key => $key)->{replayed}, 't', 'so does the other organization';
    is su("SELECT count(*) FROM tenant.idempotency_keys WHERE key = " . lit($key) . ";\n")->[0][0],
        3, 'three records of the key';
};

subtest 'the outcomes only the database can tell are recorded too' => sub {
    my @cases = (
        [ 'not_found',           { list => 'NEW' } ],
        [ 'forbidden',           { user => 'u3' } ],
        [ 'company_list',        { list => 'CL' } ],
        [ 'search_not_found',    { body => { selection => { searchId => 'LATER', selectAll => \1 } } } ],
        [ 'search_invalid',      { body => { selection => { searchId => 'BAD', selectAll => \1 } } } ],
        [ 'selection_too_large', { body => { selection => { searchId => 'S', selectAll => \1 } },
                                   max => 2 } ],
    );
    my %keys;
    for my $c (@cases) {
        my ($outcome, $args) = @$c;
        $keys{$outcome} = key();
        my $r = call(body => P('o1'), %$args, key => $keys{$outcome});
        is_deeply [ @$r{qw(outcome replayed)} ], [ $outcome, 'f' ], "$outcome: answered";
        is record_of($A, $args->{user} // 'u1', $keys{$outcome})->[0][0], $outcome,
            "$outcome: recorded";
    }
    # what made them refusals goes away; the retries still get the refusal
    su("INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES ($a_, 'NEW', 'n', 'person', '{u1}');\n"
       . "UPDATE tenant.lead_lists SET user_ids = '{u1,u2,u3}' WHERE org_id = $a_ AND id = 'L';\n"
       . "INSERT INTO tenant.searches (org_id, id, filters) VALUES ($a_, 'LATER', '{}');\n");
    for my $c (@cases) {
        my ($outcome, $args) = @$c;
        my $r = call(body => P('o1'), %$args, key => $keys{$outcome});
        is_deeply [ @$r{qw(outcome added replayed)} ], [ $outcome, 0, 't' ], "$outcome: replayed";
    }
    is call(body => { selection => { searchId => 'S', selectAll => \1 } }, max => 2,
            key => $keys{selection_too_large})->{selected}, 5,
        'selection_too_large replays its count';
};

subtest 'a request that fails is not recorded: its retry runs' => sub {
    su(failing_insert_sql($trig, $A, 'f-boom'));
    my $key = key();
    my $before = db_snapshot();
    my $r = call(body => P('f1', 'f-boom'), key => $key);
    is $r->{sqlstate}, 'XX001', 'the request fails';
    is_deeply db_snapshot(), $before, 'nothing of it is stored, no key either';
    su("DROP SCHEMA $trig CASCADE;\n");
    $r = call(body => P('f1', 'f-boom'), key => $key);
    is_deeply [ @$r{qw(outcome added replayed)} ], [ 'ok', 2, 'f' ], 'its retry runs';
    is call(body => P('f1', 'f-boom'), key => $key)->{replayed}, 't', 'and is recorded';
};

# A session of leadlist_app that runs one keyed request in a transaction
# it keeps open; returns its handle (print COMMIT or ROLLBACK, then close).
sub holder {
    my (%a) = @_;
    my $name = "t005-holder-$$-" . ++$k;
    my $h = open_session('app');
    print $h "BEGIN;\n"
           . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'L', %a)
           . "SELECT set_config('application_name', '$name', false);\n";
    ok wait_until("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '$name'"
                  . " AND state = 'idle in transaction'"),
        'a session runs the first request and keeps its transaction open';
    return $h;
}

# as call(), with lock_timeout set: a request that waited for a lock
# would fail with 55P03 instead of hanging
sub call_nowait {
    my (%a) = @_;
    my $r = app_try("SET lock_timeout = '500ms';\n"
                    . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'L', %a));
    my $row = $r->{rows}[0] || [];
    return { %$r, outcome => $row->[0] // '', added => $row->[1], selected => $row->[2],
             response => $row->[3], replayed => $row->[4] };
}

subtest 'in progress: answered at once while the first request has not ended' => sub {
    my $key = key();
    my $h = holder(body => P('p1', 'p2'), key => $key);
    my $r = call_nowait(body => P('p1', 'p2'), key => $key);
    is_deeply answer($r), [ 'idempotency_in_progress', 0, '', '', 'f' ],
        'the same request meanwhile: idempotency_in_progress, without waiting' or diag $r->{err};
    is call_nowait(body => P('other'), key => $key)->{outcome}, 'idempotency_in_progress',
        'so is another body: nothing can be compared yet';
    is_deeply [ @{ call_nowait(body => P('p3'), key => key()) }{qw(outcome added)} ], [ 'ok', 1 ],
        'another key of the same user runs meanwhile';
    print $h "COMMIT;\n";
    close $h;
    $r = call_nowait(body => P('p1', 'p2'), key => $key);
    is_deeply [ @$r{qw(outcome added replayed)} ], [ 'ok', 2, 't' ],
        'once it committed, the retry replays its answer';

    $key = key();
    $h = holder(body => P('p4'), key => $key);
    is call_nowait(body => P('p4'), key => $key)->{outcome}, 'idempotency_in_progress',
        'a second first request';
    print $h "ROLLBACK;\n";
    close $h;
    $r = call_nowait(body => P('p4'), key => $key);
    is_deeply [ @$r{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ],
        'rolled back: the retry runs as the first';
};

subtest 'a key expires after its TTL and then counts as unknown' => sub {
    my $key = key();
    is call(body => P('e1'), key => $key, ttl => 2)->{added}, 1, 'recorded for 2 s';
    my $rec = record_of($A, 'u1', $key)->[0];
    is call(body => P('e1'), key => $key, ttl => 2)->{replayed}, 't', 'replayed meanwhile';
    # wait until the record has expired (not a timing assertion)
    sleep 0.2 + su("SELECT greatest(0, extract(epoch FROM expires_at - now()))"
                   . " FROM tenant.idempotency_keys WHERE org_id = $a_ AND key = "
                   . lit($key) . ";\n")->[0][0];
    su("DELETE FROM tenant.lead_list_persons WHERE org_id = $a_ AND person_id = 'e1';\n");
    my $r = call(body => P('e1', 'e2'), key => $key, ttl => 60);
    is_deeply [ @$r{qw(outcome added replayed)} ], [ 'ok', 2, 'f' ],
        'expired: the key runs again, with another body (no mismatch)';
    my $now = record_of($A, 'u1', $key);
    is scalar @$now, 1, 'one record of the key';
    isnt $now->[0][5], $rec->[5], 'the new one, with a new expiry';
    is call(body => P('e1', 'e2'), key => $key)->{replayed}, 't', 'which replays';
};

subtest 'the table stays bounded' => sub {
    my $C = "$tag-c";
    my $c_ = lit($C);
    su("INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES ($c_, 'L', 'l', 'person', '{u1}');\n");
    # another organization's expired keys are not this one's to delete
    su("INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint, outcome,"
       . " added_count, created_at, expires_at)"
       . " SELECT $b_, 'u1', 'old-' || i, '\\x00', 'ok', 0, now() - interval '2 days',"
       . " now() - interval '1 day' FROM generate_series(1, 40) AS i;\n");

    # A stream of unique keys, 30 per batch; between batches the keys are
    # made to expire (an hour passing, without waiting for it).
    my @counts;
    for my $batch (1 .. 8) {
        app(join '', map {
            add_prospects_sql(org => $C, user => 'u1', admin => 0, list => 'L',
                              body => P("b$batch-$_"), key => "stream-$batch-$_", ttl => 60)
        } 1 .. 30);
        push @counts, su("SELECT count(*) FROM tenant.idempotency_keys WHERE org_id = $c_;\n")
                      ->[0][0];
        su("UPDATE tenant.idempotency_keys SET created_at = created_at - interval '1 hour',"
           . " expires_at = expires_at - interval '1 hour' WHERE org_id = $c_;\n");
    }
    is_deeply \@counts, [ (30) x 8 ],
        '240 keys recorded, never more than one batch held: each recording deleted expired ones';
    is su("SELECT count(*) FROM tenant.idempotency_keys WHERE org_id = $b_ AND key LIKE 'old-%';\n")
        ->[0][0], 40, "another organization's expired keys are left alone";

    # at most 16 per recording, oldest first
    su("DELETE FROM tenant.idempotency_keys WHERE org_id = $c_;\n"
       . "INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint, outcome,"
       . " added_count, created_at, expires_at)"
       . " SELECT $c_, 'u' || (i % 3), 'old-' || i, '\\x00', 'ok', 0,"
       . " now() - interval '2 days', now() - interval '1 day' + i * interval '1 s'"
       . " FROM generate_series(1, 100) AS i;\n");
    call(org => $C, body => P('x1'), key => 'one-more');
    is_deeply su("SELECT count(*), min(substr(key, 5)::int) FROM tenant.idempotency_keys"
                 . " WHERE org_id = $c_ AND key LIKE 'old-%';\n"),
        [[ 84, 17 ]], 'one recording deleted 16 expired keys, the oldest ones';
};

subtest 'malformed key arguments are errors' => sub {
    for my $c ([ 'an empty key', '' ], [ 'a key of 256 characters', 'k' x 256 ],
               [ 'a control character', "k\x01" ], [ 'a non-ASCII character', "clé" ])
    {
        is call(body => P('z'), key => $c->[1])->{sqlstate}, '22023', "$c->[0]: 22023";
    }
    is call(body => P('z'), key => 'k' x 255)->{outcome}, 'ok', '255 printable characters are a key';
    is call(body => P('z'), key => key(), ttl => 0)->{sqlstate}, '22023', 'a TTL of 0: 22023';
    is call(body => P('z'), key => key(), ttl => undef)->{sqlstate}, '22023', 'no TTL: 22023';
    is call(body => P('z'), key => key(), user => undef)->{sqlstate}, '22023', 'no user id: 22023';
    is call(body => P('z'), key => key(), org => undef)->{sqlstate}, '22023',
        'no organization id: 22023';
};

done_testing();
