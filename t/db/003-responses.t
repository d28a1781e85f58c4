#!/usr/bin/perl
#
# The 200 body leadlist.add_prospects returns (SPEC 1.5, 1.6): the three
# counts and their identities in every mode (direct, selectAll, ids), the
# per-id report (flag 1) in ascending code point order, the exact text the
# module sends, and the ids that never match.
#
# Runs under organization and person ids unique to this run, removed at
# the end; every bulk search also filters on this run's company domain.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP ();
use Test::More;
use LeadlistDbTest;

my $tag = db_test_start('t003');
my $A   = "$tag-a";
my $dom = "$tag.example";

remove_at_end($tag, orgs => [$A]);

my $json = JSON::PP->new;      # compact, like the function's text

# Person ids whose code point order differs from a case-insensitive or
# numeric one: 'B' < 'a', '10' < '9', '_' between upper and lower case,
# non-ASCII after ASCII, a quote and a backslash that the JSON escapes.
my @suffix = ('a', 'B', 'b', 'Z', '10', '9', '_u', 'é', 'ü', 'Ā', "q'uote",
              'back\\slash', 'dq"x');
my %G;                          # the catalogue of this run: id => profile
for my $i (0 .. $#suffix) {
    my $id = "$tag-$suffix[$i]";
    $G{$id} = { id => $id, title => ($i % 2 ? 'CTO' : 'CEO'),
                companyDomain => ($i % 5 == 4 ? "other.$dom" : $dom) };
}
# In the catalogue, matched by the search 'ctl' (selectAll shows it), and
# still never matched by selection.ids: ids with a control character.
my @ctrl = ("$tag-ctl\x01", "$tag-del\x7f", "$tag-c1\x{85}");
$G{$_} = { id => $_, title => 'CTO', companyDomain => "ctl.$dom" } for @ctrl;

su('INSERT INTO global.persons (id, profile) VALUES '
   . join(",\n", map { sprintf '(%s, %s)', lit($_), jlit($G{$_}) } sort keys %G)
   . ";\n");

my @mine = grep { !/[\x01-\x1f\x7f-\x9f]/ } sort keys %G;   # code point order
my @match = grep { $G{$_}{companyDomain} eq $dom } @mine;   # search 'dom'
my @non = grep { $G{$_}{companyDomain} ne $dom } @mine;     # in the catalogue

sub new_list {
    my ($id, @members) = @_;
    su(sprintf "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES (%s, %s, 'test', 'person', '{u1}');\n", lit($A), lit($id));
    su(sprintf "INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id)"
       . " VALUES %s;\n", join ', ', map { sprintf '(%s, %s, %s)', lit($A), lit($id), lit($_) }
       @members) if @members;
    return $id;
}

su(sprintf "INSERT INTO tenant.searches (org_id, id, filters) VALUES (%s, 'dom', %s), (%s, 'ctl', %s);\n",
   lit($A), jlit({ companyDomains => [$dom] }), lit($A), jlit({ companyDomains => ["ctl.$dom"] }));

sub call { return add_prospects(org => $A, user => 'u1', admin => 0, @_) }

sub uniq { my %s; return grep { !$s{$_}++ } @_ }

# The body the function must return, built here: counts, then the report.
sub body_text {
    my ($added, $already, $missed, $report) = @_;
    my $t = sprintf '{"addedCount":%d,"alreadyInListCount":%d,"notMatchedCount":%d',
                    scalar @$added, scalar @$already, scalar @$missed;
    $t .= sprintf ',"added":%s,"alreadyInList":%s,"notMatched":%s',
                  map { $json->encode([ sort @$_ ]) } $added, $already, $missed
        if $report;
    return "$t}";
}

sub members {
    my ($list) = @_;
    return [ sort map { $_->[0] } @{ su(sprintf "SELECT person_id FROM tenant.lead_list_persons"
        . " WHERE org_id = %s AND lead_list_id = %s;\n", lit($A), lit($list)) } ];
}

sub P { return { persons => [ map { ref $_ ? $_ : { id => $_ } } @_ ] } }

# Checks one ok answer against the expected sets (in any order: the
# expected text sorts them), in both the counts-only and the report form
# on two fresh lists, and that the list then holds before + added.
my $n = 0;
sub check {
    my ($name, $before, $body, $added, $already, $missed) = @_;
    my $selected = @$added + @$already;
    for my $report (0, 1) {
        my $list = new_list('L' . ++$n, @$before);
        my $r = call(list => $list, body => $body, flags => $report);
        my $what = $report ? "$name (report)" : $name;
        is_deeply [ @$r{qw(outcome added selected replayed)} ],
            [ 'ok', scalar @$added, $selected, 'f' ], "$what: outcome and counts"
            or diag $r->{err};
        is $r->{response}, body_text($added, $already, $missed, $report),
            "$what: the exact body";
        is_deeply members($list), [ sort(uniq(@$before, @$added)) ],
            "$what: the list holds what it held and the added";
        my $d = eval { JSON::PP->new->utf8(0)->decode($r->{response}) };
        ok $d && $d->{addedCount} + $d->{alreadyInListCount} == $selected,
            "$what: addedCount + alreadyInListCount = selected ($selected)";
    }
}


subtest 'direct mode: selected = added + alreadyInList, notMatched 0' => sub {
    my @ids = @mine[0 .. 7];
    check('all new', [], P(@ids), [@ids], [], []);
    check('all in the list', [@ids], P(reverse @ids), [], [@ids], []);
    check('some in the list, repeated ids, one id sent three times',
          [ @ids[1, 3] ], P(@ids[3, 0, 1, 2, 0], { id => $ids[0], other => 1 }),
          [ @ids[0, 2] ], [ @ids[1, 3] ], []);
    check('ids with quotes, backslashes, non-ASCII', [ "$tag-é" ],
          P("$tag-q'uote", "$tag-back\\slash", "$tag-dq\"x", "$tag-é", "$tag-Ā"),
          [ "$tag-q'uote", "$tag-back\\slash", "$tag-dq\"x", "$tag-Ā" ], [ "$tag-é" ], []);
};

subtest 'selectAll: selected = added + alreadyInList, notMatched 0' => sub {
    check('every match', [], { selection => { searchId => 'dom', selectAll => \1 } },
          [@match], [], []);
    check('every match, some in the list', [ @match[0, 4], $non[0] ],
          { selection => { searchId => 'dom', selectAll => \1 } },
          [ @match[1 .. 3, 5 .. $#match] ], [ @match[0, 4] ], []);
    check('excludeIds, offset, limit', [ $match[3] ],
          { selection => { searchId => 'dom', selectAll => \1,
                           excludeIds => [ $match[0] ], offset => 1, limit => 3 } },
          [ @match[2, 4] ], [ $match[3] ], []);
    check('nothing left', [],
          { selection => { searchId => 'dom', selectAll => \1, offset => scalar @match } },
          [], [], []);
};

subtest 'ids: distinct ids = added + alreadyInList + notMatched' => sub {
    ok @non >= 2, 'the catalogue has persons the search does not match';
    check('matches, non-matches, unknown ids, repeats', [ $match[1] ],
          { selection => { searchId => 'dom',
                           ids => [ @match[0 .. 2], $non[0], $match[0], "$tag-nobody",
                                    $non[0], "$tag-nobody", $non[1] ] } },
          [ @match[0, 2] ], [ $match[1] ], [ $non[0], "$tag-nobody", $non[1] ]);
    check('no id matches', [],
          { selection => { searchId => 'dom', ids => [ @non, "$tag-x" ] } },
          [], [], [ @non, "$tag-x" ]);
    check('all in the list already', [ @match[0 .. 1] ],
          { selection => { searchId => 'dom', ids => [ @match[0 .. 1] ] } },
          [], [ @match[0 .. 1] ], []);
    check('the search ctl matches the ids with control characters', [],
          { selection => { searchId => 'ctl', selectAll => \1 } }, [@ctrl], [], []);
    check('but given in ids, an id with a control character is not matched', [ $ctrl[0] ],
          { selection => { searchId => 'ctl', ids => [@ctrl] } }, [], [], [@ctrl]);
};

subtest 'the report is in code point order in every mode, and the same order' => sub {
    my @all = @match;
    my @want = sort @all;       # Perl compares characters by code point
    my @got;
    for my $body (P(reverse @all),
                  { selection => { searchId => 'dom', selectAll => \1 } },
                  { selection => { searchId => 'dom', ids => [ reverse @all ] } })
    {
        my $r = call(list => new_list('O' . ++$n), body => $body, flags => 1);
        push @got, JSON::PP->new->utf8(0)->decode($r->{response})->{added};
    }
    is_deeply \@got, [ (\@want) x 3 ], 'direct, selectAll and ids: the same ids in the same order';
    ok((grep { $_ eq "$tag-B" } @want) && "$tag-B" lt "$tag-a" && "$tag-10" lt "$tag-9"
       && "$tag-_u" lt "$tag-a" && "$tag-b" lt "$tag-é",
       'which puts upper case before lower case, "10" before "9", ASCII before the rest');
};

subtest 'flags: bit 1 only adds the report; other bits change nothing' => sub {
    my @ids = @mine[0 .. 2];
    for my $flags (4, 8, 256) {
        my $r = call(list => new_list('F' . ++$n, $ids[0]), body => P(@ids), flags => $flags);
        is $r->{response}, body_text([ @ids[1, 2] ], [ $ids[0] ], [], 0),
            "flags $flags: the counts only";
    }
    my $r = call(list => new_list('F' . ++$n, $ids[0]), body => P(@ids), flags => 5);
    is $r->{response}, body_text([ @ids[1, 2] ], [ $ids[0] ], [], 1), 'flags 5: the report';
    $r = call(list => new_list('F' . ++$n, $ids[0]), body => P(@ids), flags => undef);
    is_deeply [ @$r{qw(outcome response)} ], [ 'ok', body_text([ @ids[1, 2] ], [ $ids[0] ], [], 0) ],
        'flags NULL: as 0';
};

subtest 'refusals carry no body' => sub {
    new_list('R');
    su(sprintf "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES (%s, 'RC', 'c', 'company', '{u1}');\n", lit($A));
    su(sprintf "INSERT INTO tenant.searches (org_id, id, filters) VALUES (%s, 'bad', '{\"x\": []}');\n",
       lit($A));
    my @cases = (
        [ 'not_found',           { list => 'nope', body => P('x') } ],
        [ 'forbidden',           { list => 'R', user => 'u2', body => P('x') } ],
        [ 'company_list',        { list => 'RC', body => P('x') } ],
        [ 'search_not_found',    { list => 'R', body => { selection => { searchId => 'no', selectAll => \1 } } } ],
        [ 'search_invalid',      { list => 'R', body => { selection => { searchId => 'bad', selectAll => \1 } } } ],
        [ 'selection_too_large', { list => 'R', max => 1,
                                   body => { selection => { searchId => 'dom', selectAll => \1 } } } ],
    );
    for my $c (@cases) {
        my ($outcome, $args) = @$c;
        for my $flags (0, 1) {
            my $r = call(%$args, flags => $flags);
            is_deeply [ @$r{qw(outcome added response replayed)} ], [ $outcome, 0, '', 'f' ],
                "$outcome (flags $flags): added 0, response NULL, not replayed" or diag $r->{err};
        }
    }
    is call(list => 'R', max => 1, body => { selection => { searchId => 'dom', selectAll => \1 } })
        ->{selected}, scalar @match, 'selection_too_large still says how many';
};

done_testing();
