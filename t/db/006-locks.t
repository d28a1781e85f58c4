#!/usr/bin/perl
#
# What leadlist.add_prospects locks and writes (issue 11): a prospect
# already in the list whose tenant copy holds every member of the profile
# takes no row lock and writes nothing, so another transaction holding
# those rows does not make it wait; and under concurrency (requests that
# overlap, in every mode) each prospect is added exactly once, each
# request's own counts and report add up, and copies are merged.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP ();
use List::Util qw(shuffle sum0);
use Test::More;
use LeadlistDbTest;

my $tag = db_test_start('t006');
my $A   = "$tag-a";
my $dom = "$tag.example";
my $a_  = lit($A);

remove_at_end($tag, orgs => [$A]);

my @g = map { sprintf '%s-g%02d', $tag, $_ } 1 .. 20;
su('INSERT INTO global.persons (id, profile) VALUES '
   . join(",\n", map { sprintf '(%s, %s)', lit($_),
                           jlit({ id => $_, title => 'CTO', companyDomain => $dom }) } @g)
   . ";\nINSERT INTO tenant.searches (org_id, id, filters) VALUES ($a_, 'S', "
   . jlit({ companyDomains => [$dom] }) . ");\n");

sub new_list {
    my ($id) = @_;
    su("INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES ($a_, " . lit($id) . ", 'l', 'person', '{u1}');\n");
    return $id;
}

sub P { return { persons => [ map { ref $_ ? $_ : { id => $_ } } @_ ] } }

# the versions of the rows of these prospects: a lock or a write changes
# xmax, xmin or ctid
sub versions {
    my (@ids) = @_;
    my $in = join ', ', map { lit($_) } @ids;
    return su(<<SQL);
SELECT 'copy', id, xmin::text, xmax::text, ctid::text, profile::text
  FROM tenant.persons WHERE org_id = $a_ AND id IN ($in)
UNION ALL
SELECT 'member', lead_list_id || '/' || person_id, xmin::text, xmax::text, ctid::text, ''
  FROM tenant.lead_list_persons WHERE org_id = $a_ AND person_id IN ($in)
ORDER BY 1, 2;
SQL
}

# One call in a transaction of its own, with whether it was given a
# transaction id (anything written or locked needs one), lock_timeout set
# so that a wait for a lock fails (55P03) instead of hanging.
sub call_xid {
    my (%a) = @_;
    my $r = app_try("SET lock_timeout = '500ms';\nBEGIN;\n"
                    . add_prospects_sql(org => $A, user => 'u1', admin => 0, %a)
                    . "SELECT pg_current_xact_id_if_assigned() IS NOT NULL;\nCOMMIT;\n");
    return { %$r, outcome => $r->{rows}[0][0] // '', added => $r->{rows}[0][1],
             wrote => $r->{rows}[1][0] // '' };
}

new_list('N');
new_list('N2');
su(<<SQL);
INSERT INTO tenant.persons (org_id, id, profile) VALUES
    ($a_, 'n1', '{"id": "n1", "title": "CTO", "email": "ours\@example.com", "extra": 1}'),
    ($a_, 'n2', '{"id": "n2", "title": "CEO"}'),
    ($a_, 'n3', '{"id": "n3", "title": "VP", "phone": null}');
INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id)
VALUES ($a_, 'N', 'n1'), ($a_, 'N', 'n2'), ($a_, 'N', 'n3');
SQL

# n1: other values, the same members; n2: the same; n3: fewer members
my $readd = P({ id => 'n1', title => 'Other', email => 'theirs@example.com', extra => 2 },
              { id => 'n2', title => 'CEO' }, { id => 'n3' });

subtest 'a re-add whose copies hold every member takes no lock and writes nothing' => sub {
    my $before = versions(qw(n1 n2 n3));
    is scalar(grep { $_->[3] ne '0' } @$before), 0, 'no row is locked or updated before';
    my $r = call_xid(list => 'N', body => $readd);
    is_deeply [ @$r{qw(outcome added wrote)} ], [ 'ok', 0, 'f' ],
        'all three already in the list: added 0, and no transaction id was needed'
        or diag $r->{err};
    is_deeply versions(qw(n1 n2 n3)), $before,
        'copies and members: the same row versions, not locked (xmax 0), values kept';

    $r = call_xid(list => 'N', body => $readd, flags => 1);
    is_deeply [ @$r{qw(outcome added wrote)} ], [ 'ok', 0, 'f' ], 'so with the report';
    my $before_db = db_snapshot();
    $r = call_xid(list => 'N', body => $readd, flags => 2);
    is_deeply [ @$r{qw(outcome added)} ], [ 'ok', 0 ], 'and the dry run';
    is_deeply db_snapshot(), $before_db, '(which stores nothing either)';

    $r = call_xid(list => 'N2', body => P({ id => 'n2', title => 'x' }));
    is_deeply [ @$r{qw(outcome added wrote)} ], [ 'ok', 1, 't' ],
        'added to another list: the member row is written';
    my $after = versions('n2');
    is_deeply [ map { [ @$_[2 .. 5] ] } grep { $_->[0] eq 'copy' } @$after ],
        [ map { [ @$_[2 .. 5] ] } grep { $_->[0] eq 'copy' } @$before[1] ],
        'but its copy, which holds every member, is left alone';

    $r = call_xid(list => 'N', body => P({ id => 'n3', title => 'x', city => 'Berlin' }));
    is_deeply [ @$r{qw(outcome added wrote)} ], [ 'ok', 0, 't' ],
        'a copy that lacks a member is written';
    is su("SELECT profile::text FROM tenant.persons WHERE org_id = $a_ AND id = 'n3';\n")->[0][0],
        '{"id": "n3", "city": "Berlin", "phone": null, "title": "VP"}', 'merged: values kept, member added';
};

subtest 'another transaction holding those rows does not make it wait' => sub {
    my $name = "t006-holder-$$";
    my $h = open_session('su');
    print $h "BEGIN;\n"
           . "SELECT FROM tenant.persons WHERE org_id = $a_ AND id IN ('n1', 'n2', 'n3') FOR UPDATE;\n"
           . "SELECT FROM tenant.lead_list_persons WHERE org_id = $a_ FOR UPDATE;\n"
           . "SELECT set_config('application_name', '$name', false);\n";
    ok wait_until("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '$name'"
                  . " AND state = 'idle in transaction'"),
        'a session holds the copies and the member rows FOR UPDATE';

    my $r = call_xid(list => 'N', body => $readd);
    is_deeply [ @$r{qw(outcome added wrote)} ], [ 'ok', 0, 'f' ],
        'the re-add answers without waiting' or diag $r->{err};
    $r = call_xid(list => new_list('N3'), body => $readd);
    is_deeply [ @$r{qw(outcome added)} ], [ 'ok', 3 ],
        'adding them to another list does not wait either' or diag $r->{err};
    $r = call_xid(list => 'N', body => P({ id => 'n2', headline => 'new member' }));
    is $r->{sqlstate}, '55P03',
        'a re-add that must merge a member waits for the held row (here: lock_timeout)';

    print $h "ROLLBACK;\n";
    close $h;
};


sub decode { return JSON::PP->new->decode($_[0]) }

# Checks the answers of overlapping requests: each prospect added by one
# request only and by some request; each request's added and alreadyInList
# partition what it selected; counts match the report.
sub check_race {
    my ($name, $results, $selected, $missed, $all) = @_;
    is scalar(grep { $_->{ok} } @$results), scalar @$results, "$name: every request succeeded"
        or diag join "\n", map { $_->{err} } @$results;
    my (%by, @added);
    for my $i (0 .. $#$results) {
        my $row = $results->[$i]{rows}[-1] || [];
        my $d = eval { decode($row->[3]) } || {};
        my @sel = sort keys %{ { map { $_ => 1 } @{ $selected->[$i] } } };
        is_deeply [ sort(@{ $d->{added} || [] }, @{ $d->{alreadyInList} || [] }) ], \@sel,
            "$name, request $i: added and alreadyInList are what it selected";
        is_deeply [ $d->{addedCount}, $d->{alreadyInListCount}, $d->{notMatchedCount},
                    $row->[1] ],
                  [ scalar @{ $d->{added} || [] }, scalar @{ $d->{alreadyInList} || [] },
                    scalar @{ $missed->[$i] }, scalar @{ $d->{added} || [] } ],
            "$name, request $i: the counts are the report's";
        is_deeply $d->{notMatched}, $missed->[$i], "$name, request $i: notMatched";
        push @added, @{ $d->{added} || [] };
    }
    is_deeply [ sort @added ], $all, "$name: every prospect added once, by one request";
}

subtest 'overlapping direct requests' => sub {
    new_list('C');
    my @ids = map { sprintf 'c%03d', $_ } 1 .. 48;
    # six windows of 16, 6 apart, each in its own order; every id in two or
    # three requests
    my @sel = map { my $k = $_; [ map { $ids[ ($k * 8 + $_) % 48 ] } 0 .. 15 ] } 0 .. 5;
    my @r = race_sessions(map {
        my $k = $_;
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'C', flags => 1,
                          body => P(map { { id => $_, by => "r$k" } } shuffle @{ $sel[$k] }))
    } 0 .. 5);
    my %u = map { $_ => 1 } map { @$_ } @sel;
    check_race('direct', \@r, \@sel, [ ([]) x 6 ], [ sort keys %u ]);
    is su("SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = $a_"
          . " AND lead_list_id = 'C';\n")->[0][0], scalar keys %u, 'the list holds each once';
};

subtest 'overlapping direct, ids and selectAll requests' => sub {
    new_list('M');
    my @sel = ([ @g[0 .. 11] ], [ @g[6 .. 17] ], [ @g[0 .. 9] ], [ @g[10 .. 19] ]);
    my @r = race_sessions(
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'M', flags => 1,
                          body => P(reverse @{ $sel[0] })),
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'M', flags => 1,
                          body => { selection => { searchId => 'S',
                                                   ids => [ @{ $sel[1] }, "$tag-none" ] } }),
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'M', flags => 1,
                          body => { selection => { searchId => 'S', selectAll => \1,
                                                   limit => 10 } }),
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'M', flags => 1,
                          body => { selection => { searchId => 'S', selectAll => \1,
                                                   offset => 10 } }),
    );
    check_race('mixed', \@r, \@sel, [ [], [ "$tag-none" ], [], [] ], [@g]);
};

subtest 'overlapping requests merge their members into one copy' => sub {
    new_list('G');
    my @r = race_sessions(map {
        add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'G',
                          body => P({ id => 'm1', "member$_" => $_ }, { id => "m-own-$_" }))
    } 1 .. 4);
    is scalar(grep { $_->{ok} } @r), 4, 'every request succeeded'
        or diag join "\n", map { $_->{err} } @r;
    is sum0(map { $_->{rows}[0][1] } @r), 5, 'm1 added once, and each own person';
    is_deeply [ sort keys %{ decode(su("SELECT profile FROM tenant.persons"
                                       . " WHERE org_id = $a_ AND id = 'm1';\n")->[0][0]) } ],
        [ qw(id member1 member2 member3 member4) ], 'the copy holds every member sent';
};

done_testing();
