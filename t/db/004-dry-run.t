#!/usr/bin/perl
#
# Dry runs (flag 2, Prefer: tx=rollback): every check and the very answer a
# real request gets, and nothing stored: the whole content of the
# endpoint's tables (tenant copies and idempotency keys included) is the
# same before and after.  Each case runs as a dry run, then for real, and
# the two answers must be equal.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use LeadlistDbTest;

my $tag  = db_test_start('t004');
my $A    = "$tag-a";
my $dom  = "$tag.example";
my $trig = "t004_$$";
my $a_   = lit($A);

remove_at_end($tag, orgs => [$A], schemas => [$trig]);

my @g = map { sprintf '%s-g%02d', $tag, $_ } 1 .. 12;
su('INSERT INTO global.persons (id, profile) VALUES '
   . join(",\n", map { sprintf '(%s, %s)', lit($_),
                           jlit({ id => $_, title => 'CTO', companyDomain => $dom,
                                  catalogue => 'yes' }) } @g)
   . ";\n"
   . "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids) VALUES"
   . " ($a_, 'L', 'l', 'person', '{u1}'), ($a_, 'CL', 'c', 'company', '{u1}');\n"
   . "INSERT INTO tenant.searches (org_id, id, filters) VALUES"
   . " ($a_, 'S', " . jlit({ companyDomains => [$dom] }) . "),"
   . " ($a_, 'BAD', '{\"jobTitles\": []}');\n"
   # in the list already, with a copy that lacks a member the requests send
   . "INSERT INTO tenant.persons (org_id, id, profile) VALUES"
   . " ($a_, 'd1', '{\"id\": \"d1\", \"title\": \"ours\"}'),"
   . " ($a_, " . lit($g[0]) . ", '{\"title\": \"ours\"}');\n"
   . "INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id) VALUES"
   . " ($a_, 'L', 'd1'), ($a_, 'L', " . lit($g[0]) . ");\n");

sub call { return add_prospects(org => $A, user => 'u1', admin => 0, list => 'L', @_) }

my @cases = (
    [ 'direct: new, in the list, a copy to merge, a repeated id',
      { persons => [ { id => 'd1', title => 'CTO', email => 'new@example.com' },
                     { id => 'd2', x => 1 }, { id => 'd3' }, { id => 'd2' } ] } ],
    [ 'selectAll with offset and limit',
      { selection => { searchId => 'S', selectAll => \1, offset => 0, limit => 5 } } ],
    [ 'ids, some not matched',
      { selection => { searchId => 'S', ids => [ @g[0, 6, 7], "$tag-nobody" ] } } ],
    [ 'selection_too_large', { selection => { searchId => 'S', selectAll => \1 } }, 3 ],
    [ 'search_invalid', { selection => { searchId => 'BAD', selectAll => \1 } } ],
    [ 'search_not_found', { selection => { searchId => 'nope', selectAll => \1 } } ],
    [ 'company_list', { persons => [ { id => 'd9' } ] }, undef, 'CL' ],
    [ 'forbidden', { persons => [ { id => 'd9' } ] }, undef, 'L', 'u2' ],
    [ 'not_found', { persons => [ { id => 'd9' } ] }, undef, 'nope' ],
);

for my $report (0, 1) {
    for my $c (@cases) {
        my ($name, $body, $max, $list, $user) = @$c;
        $name .= ' (report)' if $report;
        my %a = (body => $body, max => $max // 1000, list => $list // 'L',
                 user => $user // 'u1');

        my $before = db_snapshot();
        my $dry = call(%a, flags => 2 + $report);
        ok $dry->{ok}, "$name: the dry run ran" or diag $dry->{err};
        is_deeply db_snapshot(), $before, "$name: the dry run stored nothing";

        my $real = call(%a, flags => $report);
        is_deeply [ @$dry{qw(outcome added selected response replayed)} ],
                  [ @$real{qw(outcome added selected response replayed)} ],
            "$name: the dry run answered what the real request answers"
            . " ($real->{outcome}, added " . ($real->{added} // '') . ')';

        # undo the real request, to give the next case the same start
        su("DELETE FROM tenant.lead_list_persons WHERE org_id = $a_ AND lead_list_id = 'L'"
           . " AND person_id NOT IN ('d1', " . lit($g[0]) . ");\n"
           . "DELETE FROM tenant.persons WHERE org_id = $a_"
           . " AND id NOT IN ('d1', " . lit($g[0]) . ");\n"
           . "UPDATE tenant.persons SET profile = CASE id WHEN 'd1'"
           . " THEN '{\"id\": \"d1\", \"title\": \"ours\"}'::jsonb"
           . " ELSE '{\"title\": \"ours\"}'::jsonb END WHERE org_id = $a_;\n");
    }
}

subtest 'the real requests did store something (the comparison can fail)' => sub {
    my $before = db_snapshot();
    my $r = call(body => $cases[0][1]);
    is $r->{added}, 2, 'the direct case adds two';
    isnt db_snapshot()->{'tenant.persons'}, $before->{'tenant.persons'}, 'and changes the copies';
    isnt db_snapshot()->{'tenant.lead_list_persons'}, $before->{'tenant.lead_list_persons'},
        'and the list';
};

subtest 'a dry run with an Idempotency-Key is not recorded' => sub {
    my $body = { persons => [ { id => 'k1' } ] };
    my $before = db_snapshot();
    my $dry = call(body => $body, flags => 2, key => "$tag-key");
    is_deeply [ @$dry{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ], 'the dry run answers';
    is_deeply db_snapshot(), $before, 'and stores nothing, no key either';
    $dry = call(body => $body, flags => 2, key => "$tag-key");
    is_deeply [ @$dry{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ],
        'the same dry run again runs again (nothing was recorded to replay)';
    my $real = call(body => $body, key => "$tag-key");
    is_deeply [ @$real{qw(outcome added replayed)} ], [ 'ok', 1, 'f' ],
        'the real request with the key runs';
    is_deeply [ @{ call(body => $body, key => "$tag-key") }{qw(outcome added replayed)} ],
        [ 'ok', 1, 't' ], 'and is recorded';
    is call(body => $body, flags => 2, key => "$tag-key")->{outcome}, 'idempotency_mismatch',
        'a dry run with a key a real request recorded: another preference';
};

subtest 'an error in a dry run is an error, not an answer' => sub {
    su(failing_insert_sql($trig, $A, 'boom'));
    my $before = db_snapshot();
    my $r = call(body => { persons => [ { id => 'a-ok' }, { id => 'boom' } ] }, flags => 2);
    ok !$r->{ok}, 'the call fails';
    is $r->{sqlstate}, 'XX001', 'with the error raised';
    is_deeply db_snapshot(), $before, 'and stores nothing';
    su("DROP SCHEMA $trig CASCADE;\n");
};

done_testing();
