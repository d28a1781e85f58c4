#!/usr/bin/perl
#
# leadlist.add_prospects, called as the module calls it (as leadlist_app):
# every outcome and the order they are checked in, the merge rule, tenant
# isolation, duplicates, bulk matching and paging against a Perl model of
# SPEC 1.3, atomicity, concurrency, that every filter can use its index and
# a page the covering index, and that the search columns follow the profile.
#
# Everything lives under organization and person ids unique to this run and
# is removed at the end; global.persons may hold other rows meanwhile (demo
# data, other tests), so every bulk search here also filters on this run's
# own company domain, except where a snapshot pins what "all" means.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use List::Util qw(sum0 shuffle);
use Test::More;
use Time::HiRes qw(sleep);
use LeadlistDbTest;

my $tag   = db_test_start('t002');
my $A     = "$tag-a";              # the caller's organization
my $B     = "$tag-b";              # another organization
my $dom   = "$tag.example";        # this run's company domain
my $trig  = "t002_$$";             # schema of the atomicity trigger
my $lockk = $$ % 2000000000;       # advisory lock key of the barrier

remove_at_end($tag, orgs => [$A, $B], schemas => [$trig]);


# The catalogue of this run: 40 persons whose fields cycle through values
# with different case, a non-ASCII state, missing fields, departments that
# are an array, empty, missing or not an array at all.

my @titles  = ('CTO', 'cto', 'Software Engineer', 'VP of Sales', 'Account Executive');
my @sen     = ('C-Level', 'Senior', 'VP', 'Entry');
my @deps    = (['Engineering'], ['Sales', 'Marketing'], ['engineering', 'Product'],
               [], undef, 'Sales');
my @ind     = ('Software', 'Banking', 'Retail');
my @country = ('Germany', 'GERMANY', 'France', 'United States', undef);
my @state   = ('Berlin', 'Bavaria', 'Île-de-France', 'California');
my @city    = ('Berlin', 'Munich', 'Paris', 'San Francisco', 'Austin');
my @cname   = ('Initech', 'Hooli');

my %G;
for my $i (1 .. 40) {
    my $id = sprintf '%s-g%02d', $tag, $i;
    my %p = (
        id            => $id,
        fullName      => "Person $i",
        title         => $titles[$i % @titles],
        seniority     => $sen[$i % @sen],
        industry      => $ind[$i % @ind],
        state         => $state[$i % @state],
        city          => $city[$i % @city],
        companyName   => $cname[$i % @cname],
        companyDomain => $i % 7 == 0 ? "other-$dom"
                       : $i % 4 == 1 ? uc $dom : $dom,
        extra         => { n => $i, tags => [ 'a', 'b' ] },
    );
    $p{departments} = $deps[$i % @deps] if defined $deps[$i % @deps];
    $p{country} = $country[$i % @country] if defined $country[$i % @country];
    $G{$id} = \%p;
}

my %field = (
    titles => 'title', seniorities => 'seniority', departments => 'departments',
    industries => 'industry', companyDomains => 'companyDomain',
    companyNames => 'companyName', countries => 'country', states => 'state',
    cities => 'city',
);

# SPEC 1.3 in Perl: for every key the field equals one of the values,
# case-insensitively; for departments any of them does.
sub matches {
    my ($p, $filters) = @_;
    for my $k (keys %$filters) {
        my %want = map { lc($_) => 1 } @{ $filters->{$k} };
        my $v = $p->{ $field{$k} };
        if ($k eq 'departments') {
            return 0 unless ref $v eq 'ARRAY' && grep { $want{ lc $_ } } @$v;
        } else {
            return 0 unless defined $v && !ref $v && $want{ lc $v };
        }
    }
    return 1;
}

sub expected { my ($f) = @_; return [ sort grep { matches($G{$_}, $f) } keys %G ] }

my $a_ = lit($A);

sub new_list {
    my ($org, $id, $type, $users) = @_;
    su(sprintf "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES (%s, %s, 'test', %s, %s);\n",
       lit($org), lit($id), lit($type // 'person'), lit($users // '{u1}'));
    return $id;
}

sub new_search {
    my ($org, $id, $filters) = @_;
    su(sprintf "INSERT INTO tenant.searches (org_id, id, user_id, filters)"
       . " VALUES (%s, %s, 'u1', %s);\n", lit($org), lit($id), jlit($filters));
    return $id;
}

sub members {
    my ($org, $list) = @_;
    return [ map { $_->[0] } @{ su(sprintf "SELECT person_id FROM tenant.lead_list_persons"
        . " WHERE org_id = %s AND lead_list_id = %s ORDER BY person_id;\n",
        lit($org), lit($list)) } ];
}

sub tenant_profile {
    my ($org, $id) = @_;
    my $rows = su(sprintf "SELECT profile FROM tenant.persons"
                  . " WHERE org_id = %s AND id = %s;\n", lit($org), lit($id));
    return @$rows ? JSON::PP->new->decode($rows->[0][0]) : undef;
}

sub global_profile {
    my ($id) = @_;
    return JSON::PP->new->decode(
        su("SELECT profile FROM global.persons WHERE id = " . lit($id) . ";\n")->[0][0]);
}

# counts of the rows of an organization, to show that nothing was written
sub footprint {
    my ($org) = @_;
    my $o = lit($org);
    return su(<<SQL)->[0];
SELECT (SELECT count(*) FROM tenant.persons WHERE org_id = $o),
       (SELECT coalesce(sum(hashtext(id || profile::text)), 0) FROM tenant.persons WHERE org_id = $o),
       (SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = $o);
SQL
}

sub call { return add_prospects(org => $A, user => 'u1', admin => 0, @_) }

sub result_is {
    my ($r, $want, $name) = @_;
    is_deeply [ @$r{qw(outcome added selected)} ], $want, $name
        or diag $r->{err};
}

sub P { my (@ids) = @_; return { persons => [ map { ref $_ ? $_ : { id => $_ } } @ids ] } }


su('INSERT INTO global.persons (id, profile) VALUES '
   . join(",\n", map { sprintf '(%s, %s)', lit($_), jlit($G{$_}) } sort keys %G)
   . ";\nANALYZE global.persons;\n");

my @mine = sort keys %G;
my $g = sub { sprintf '%s-g%02d', $tag, $_[0] };


subtest 'outcomes and the order of checks, and nothing written by any refusal' => sub {
    new_list($A, 'L', 'person', '{u1}');
    new_list($A, 'CL', 'company', '{u1}');
    new_list($A, 'NULLS', 'person', '{u1,NULL}');
    new_list($B, 'onlyB', 'person', '{u1}');
    new_search($A, 'S', { companyDomains => [$dom] });
    new_search($B, 'SB', {});
    new_search($A, 'BAD', { jobTitles => ['CTO'] });

    my $before_a = footprint($A);
    my $before_b = footprint($B);
    my $bulk = { selection => { searchId => 'S', selectAll => \1, limit => 5 } };

    result_is call(list => 'nope', body => P('x')),
        [ 'not_found', 0, '' ], 'no such list: not_found';
    result_is call(list => 'onlyB', body => P('x'), admin => 1),
        [ 'not_found', 0, '' ], "another organization's list is invisible, even to an admin";
    result_is add_prospects(org => $B, user => 'u1', admin => 1, list => 'L', body => P('x')),
        [ 'not_found', 0, '' ], 'a list id is looked up in the caller\'s organization only';
    result_is call(list => 'nope', user => 'u2', body => $bulk),
        [ 'not_found', 0, '' ], 'not_found comes before forbidden';

    result_is call(list => 'L', user => 'u2', body => P('x')),
        [ 'forbidden', 0, '' ], 'not in user_ids, not admin: forbidden';
    result_is call(list => 'L', user => undef, body => P('x')),
        [ 'forbidden', 0, '' ], 'no user id: forbidden';
    result_is call(list => 'L', user => 'u2', admin => undef, body => P('x')),
        [ 'forbidden', 0, '' ], 'is_admin NULL counts as false';
    result_is call(list => 'NULLS', user => 'u9', body => P('x')),
        [ 'forbidden', 0, '' ], 'a NULL in user_ids lets no one in';
    result_is call(list => 'L', user => 'U1', body => P('x')),
        [ 'forbidden', 0, '' ], 'user ids are compared exactly';
    result_is call(list => 'CL', user => 'u2', body => P('x')),
        [ 'forbidden', 0, '' ], 'forbidden comes before company_list';
    result_is call(list => 'L', user => 'u2',
                   body => { selection => { searchId => 'nope', selectAll => \1 } }),
        [ 'forbidden', 0, '' ], 'forbidden comes before search_not_found';
    result_is call(list => 'L', user => 'u2',
                   body => { selection => { searchId => 'S', selectAll => \1 } }, max => 0),
        [ 'forbidden', 0, '' ], 'forbidden comes before selection_too_large';

    result_is call(list => 'CL', body => P('x')),
        [ 'company_list', 0, '' ], 'company list: company_list';
    result_is call(list => 'CL', user => 'boss', admin => 1, body => $bulk),
        [ 'company_list', 0, '' ], 'company list, admin, bulk: company_list';
    result_is call(list => 'CL', body => { selection => { searchId => 'nope', selectAll => \1 } }),
        [ 'company_list', 0, '' ], 'company_list comes before search_not_found';

    result_is call(list => 'L', body => { selection => { searchId => 'nope', selectAll => \1 } }),
        [ 'search_not_found', 0, '' ], 'unknown search: search_not_found';
    result_is call(list => 'L', body => { selection => { searchId => 'SB', selectAll => \1 } }),
        [ 'search_not_found', 0, '' ], "another organization's search: search_not_found";
    result_is call(list => 'L', body => { selection => { searchId => 'BAD', selectAll => \1 } },
                   max => 0),
        [ 'search_invalid', 0, '' ], 'search_invalid comes before selection_too_large';
    result_is call(list => 'L', body => { selection => { searchId => 'BAD', ids => [ $g->(1) ] } }),
        [ 'search_invalid', 0, '' ], 'search_invalid in ids mode too';

    my %invalid = (
        'filters an array'           => '[]',
        'filters a string'           => '"titles"',
        'filters null'               => 'null',
        'unknown key'                => '{"jobTitles": ["CTO"]}',
        'singular key'               => '{"title": ["CTO"]}',
        'key in other case'          => '{"Titles": ["CTO"]}',
        'known and unknown keys'     => '{"titles": ["CTO"], "salary": ["1"]}',
        'value a string'             => '{"titles": "CTO"}',
        'value null'                 => '{"titles": null}',
        'value an object'            => '{"countries": {"0": "Germany"}}',
        'value with a number'        => '{"titles": ["CTO", 1]}',
        'value with null'            => '{"titles": ["CTO", null]}',
        'value with an array'        => '{"departments": [["Sales"]]}',
        'unknown key, empty array'   => '{"jobTitles": []}',
    );
    for my $name (sort keys %invalid) {
        (my $sid = "inv-$name") =~ s/\W+/-/g;
        su(sprintf "INSERT INTO tenant.searches (org_id, id, filters) VALUES (%s, %s, %s);\n",
           $a_, lit($sid), lit($invalid{$name}));
        result_is call(list => 'L', body => { selection => { searchId => $sid, selectAll => \1,
                                                            limit => 10 } }),
            [ 'search_invalid', 0, '' ], "search_invalid: $name";
    }

    my $n = @{ expected({ companyDomains => [$dom] }) };
    result_is call(list => 'L', body => { selection => { searchId => 'S', selectAll => \1 } },
                   max => $n - 1),
        [ 'selection_too_large', 0, $n ], "selection_too_large counts the whole selection ($n)";

    is_deeply footprint($A), $before_a, 'no refusal wrote anything in the organization';
    is_deeply footprint($B), $before_b, 'nor in the other one';

    result_is call(list => 'L', user => 'boss', admin => 1, body => P('adm-1')),
        [ 'ok', 1, 1 ], 'an admin not in user_ids may add';
    is su("SELECT added_by FROM tenant.lead_list_persons WHERE org_id = $a_ AND lead_list_id = 'L';\n")->[0][0],
        'boss', 'added_by is the caller';
};


subtest 'direct mode: duplicates, first occurrence, merge, isolation' => sub {
    new_list($A, 'D', 'person', '{u1,u2}');
    new_list($B, 'D', 'person', '{u1}');
    su(sprintf <<'SQL', lit($B), lit($A));
INSERT INTO tenant.persons (org_id, id, profile)
VALUES (%s, 'd1', '{"id": "d1", "title": "B keeps this"}'),
       (%s, 'd4', '{"id": "d4", "phone": null, "email": "old@example.com", "n": {"x": 1}}');
SQL
    my $before_b = footprint($B);

    my $first = { id => 'd1', title => 'CTO', nested => { deep => [ 1, { two => 2 } ] },
                  custom => 'kept as is', email => undef };
    my $r = call(list => 'D', body => P($first, 'd2', { id => 'd1', title => 'CEO', other => 1 }));
    result_is $r, [ 'ok', 2, 2 ], 'three objects, two ids: two added';
    is_deeply tenant_profile($A, 'd1'), $first,
        'the whole first object is stored; the repeated id is ignored';

    $r = call(list => 'D', user => 'u2',
              body => P({ id => 'd1', title => 'X', headline => 'new member' }, 'd3', 'd3'));
    result_is $r, [ 'ok', 1, 2 ], 'd1 already in the list: only d3 is added';
    is_deeply tenant_profile($A, 'd1'), { %$first, headline => 'new member' },
        'merge: values kept, the missing member added';

    result_is call(list => 'D', body => P('d3', 'd2', 'd1')), [ 'ok', 0, 3 ],
        'all already in the list: added 0';

    result_is call(list => 'D', body => P({ id => 'd4', phone => '+1', email => 'new@example.com',
                                           city => 'Berlin', n => { y => 2 } })),
        [ 'ok', 1, 1 ], 'a prospect the organization already holds is added to the list';
    is_deeply tenant_profile($A, 'd4'),
        { id => 'd4', phone => undef, email => 'old@example.com', city => 'Berlin', n => { x => 1 } },
        'merge: existing values stay, a null included; members are not merged deeper';

    is_deeply members($A, 'D'), [qw(d1 d2 d3 d4)], 'the list holds each prospect once';
    is_deeply su("SELECT person_id, added_by FROM tenant.lead_list_persons"
                 . " WHERE org_id = $a_ AND lead_list_id = 'D' ORDER BY 1;\n"),
        [ [ 'd1', 'u1' ], [ 'd2', 'u1' ], [ 'd3', 'u2' ], [ 'd4', 'u1' ] ],
        'added_by: who added each first';

    is_deeply footprint($B), $before_b, "the other organization's rows are untouched";
    is_deeply members($B, 'D'), [], 'its list of the same id stays empty';
    is_deeply tenant_profile($B, 'd1'), { id => 'd1', title => 'B keeps this' },
        'its copy of the same person is unchanged';

    result_is call(list => 'D', body => P('ünï-cødé ✓', "o'quote", 'back\\slash')),
        [ 'ok', 3, 3 ], 'ids with quotes, backslashes and non-ASCII';
    is_deeply members($A, 'D'), [ 'back\\slash', qw(d1 d2 d3 d4), "o'quote", 'ünï-cødé ✓' ],
        'stored as sent';
};


subtest 'bulk matching follows SPEC 1.3 (compared with a Perl model)' => sub {
    new_list($A, 'first', 'person', '{u1}');
    my $f0 = { companyDomains => [ ucfirst $dom ], titles => ['CTO'] };
    new_search($A, 'first', $f0);
    my $want = expected($f0);
    cmp_ok scalar @$want, '>=', 5, 'the model selects some';

    result_is call(list => 'first', body => { selection => { searchId => 'first', selectAll => \1 } }),
        [ 'ok', scalar @$want, scalar @$want ], 'selectAll without limit under the cap';
    is_deeply members($A, 'first'), $want, 'exactly the matches were added';
    is_deeply [ map { $_->[0] } @{ su("SELECT id FROM tenant.persons WHERE org_id = $a_"
                                       . " AND id LIKE '$tag-%' ORDER BY id;\n") } ],
        $want, 'and only they were copied into the organization';
    is_deeply tenant_profile($A, $want->[0]), global_profile($want->[0]),
        'the copy is the catalogue profile';
    result_is call(list => 'first', body => { selection => { searchId => 'first', selectAll => \1 } }),
        [ 'ok', 0, scalar @$want ], 'the same selection again adds nothing';

    my @cases = (
        [ 'domain only, other case'          => { companyDomains => [ uc $dom ] } ],
        [ 'two domains'                      => { companyDomains => [ $dom, "OTHER-$dom" ] } ],
        [ 'title, OR within a key'           => { companyDomains => [$dom], titles => [ 'cto', 'VP OF SALES' ] } ],
        [ 'departments, any of them'         => { companyDomains => [$dom], departments => ['ENGINEERING'] } ],
        [ 'departments, second element'      => { companyDomains => [$dom], departments => ['marketing'] } ],
        [ 'departments: sales (a string, not an array, never matches)'
                                          => { companyDomains => [$dom], departments => ['sales'] } ],
        [ 'AND across keys'                  => { companyDomains => [$dom], countries => ['germany'],
                                                   seniorities => [ 'c-level', 'SENIOR' ] } ],
        [ 'non-ASCII, case-insensitive'      => { companyDomains => [$dom], states => ['ÎLE-DE-FRANCE'] } ],
        [ 'cities, industries, companyNames' => { companyDomains => [$dom], cities => [ 'munich', 'AUSTIN' ],
                                                   industries => ['software'], companyNames => ['HOOLI'] } ],
        [ 'a missing field never matches'    => { companyDomains => [$dom], countries => [ 'germany', 'france', 'united states' ] } ],
        [ 'every key at once'                => { companyDomains => [$dom], titles => [ 'cto', 'software engineer' ],
                                                   seniorities => [@sen], departments => [ 'engineering', 'sales' ],
                                                   industries => [@ind], companyNames => [@cname],
                                                   countries => ['GERMANY'], states => [@state], cities => [@city] } ],
        [ 'an empty value list matches no one' => { companyDomains => [$dom], titles => [] } ],
    );

    my $i = 0;
    for my $case (@cases) {
        my ($name, $f) = @$case;
        $i++;
        new_list($A, "m$i", 'person', '{u1}');
        new_search($A, "m$i", $f);
        my $want = expected($f);
        result_is call(list => "m$i", body => { selection => { searchId => "m$i", selectAll => \1 } }),
            [ 'ok', scalar @$want, scalar @$want ], "$name: count (" . @$want . ')';
        is_deeply members($A, "m$i"), $want, "$name: ids";
    }

    # {} matches everyone: in ids mode, all of ours
    new_list($A, 'all-ids', 'person', '{u1}');
    new_search($A, 'all', {});
    result_is call(list => 'all-ids', body => { selection => { searchId => 'all',
                   ids => [ reverse(@mine), $mine[0], "$tag-unknown" ] } }),
        [ 'ok', scalar @mine, scalar @mine ], '{} matches every id given; unknown and repeated ids skipped';
    is_deeply members($A, 'all-ids'), \@mine, '{} in ids mode: ids';

    # {} with selectAll: what "all" is depends on the catalogue, so pin it
    # with a snapshot shared by the count and the call.
    new_list($A, 'all-sel', 'person', '{u1}');
    my $sql = "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
            . "SELECT count(*) FROM global.persons;\n"
            . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'all-sel',
                                body => { selection => { searchId => 'all', selectAll => \1 } }, max => 1)
            . "ROLLBACK;\n";
    my $rows = app($sql);
    my $total = $rows->[0][0];
    is_deeply [ @{ $rows->[1] }[0 .. 2] ], [ 'selection_too_large', 0, $total ],
        "{} with selectAll selects the whole catalogue ($total)";

    $sql = "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
         . "SELECT count(*) FROM global.persons;\n"
         . "SELECT max(id) FROM global.persons;\n"
         . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'all-sel',
                             body => { selection => { searchId => 'all', selectAll => \1,
                                                      offset => ($total - 1) } }, max => 1)
         . "SELECT person_id FROM tenant.lead_list_persons WHERE org_id = $a_ AND lead_list_id = 'all-sel';\n"
         . "ROLLBACK;\n";
    $rows = app($sql);
    is_deeply [ @{ $rows->[2] }[0 .. 2], $rows->[3][0] ], [ 'ok', 1, 1, $rows->[1][0] ],
        '{} with offset count-1: the one with the greatest id';
};


subtest 'selectAll: order, excludeIds, offset, limit, the cap' => sub {
    my $f = { companyDomains => [$dom] };
    new_search($A, 'P', $f);
    my @e = @{ expected($f) };
    my $n = @e;
    my $k = 0;
    my $sel = sub {
        my ($max, %s) = @_;
        my $list = 'p' . ++$k;
        new_list($A, $list, 'person', '{u1}');
        my $r = call(list => $list, body => { selection => { searchId => 'P', selectAll => \1, %s } },
                     max => $max);
        return ($r, members($A, $list));
    };

    my ($r, $m) = $sel->(1000, limit => 5);
    result_is $r, [ 'ok', 5, 5 ], 'limit 5';
    is_deeply $m, [ @e[0 .. 4] ], 'limit: the first five by id';

    ($r, $m) = $sel->(1000, offset => 3, limit => 4);
    is_deeply $m, [ @e[3 .. 6] ], 'offset 3, limit 4';

    my @ex = ($e[0], $e[2], "$tag-unknown", $g->(7));    # g07 is not a match
    my @rest = grep { my $x = $_; !grep { $_ eq $x } @ex } @e;
    ($r, $m) = $sel->(1000, excludeIds => \@ex, offset => 1, limit => 3);
    result_is $r, [ 'ok', 3, 3 ], 'excludeIds, then offset, then limit';
    is_deeply $m, [ @rest[1 .. 3] ], 'excludeIds, offset, limit: ids';

    ($r, $m) = $sel->($n, excludeIds => []);
    result_is $r, [ 'ok', $n, $n ], "no limit, exactly the cap ($n): all";
    is_deeply $m, \@e, 'no limit, at the cap: ids';

    ($r, $m) = $sel->($n - 1);
    result_is $r, [ 'selection_too_large', 0, $n ], 'no limit, one over the cap: refused with the count';
    is_deeply $m, [], 'refused: nothing added';

    ($r, $m) = $sel->(5, excludeIds => [ @e[0, 1] ], offset => 3);
    result_is $r, [ 'selection_too_large', 0, $n - 2 - 3 ],
        'the count is what remains after excludeIds and offset';

    ($r, $m) = $sel->($n - 3, offset => 3);
    result_is $r, [ 'ok', $n - 3, $n - 3 ], 'an offset can bring a selection under the cap';
    is_deeply $m, [ @e[3 .. $#e] ], 'the rest after the offset';

    ($r, $m) = $sel->(5, limit => 10);
    result_is $r, [ 'ok', 10, 10 ], 'a given limit is not held to the cap';

    ($r, $m) = $sel->(1000, offset => $n, limit => 10);
    result_is $r, [ 'ok', 0, 0 ], 'offset past the end: nothing';

    ($r, $m) = $sel->(0, offset => $n);
    result_is $r, [ 'ok', 0, 0 ], 'nothing remains: not over a cap of 0';
};


subtest 'ids mode' => sub {
    my $f = { companyDomains => [$dom], titles => ['cto'] };
    new_search($A, 'I', $f);
    my @e = @{ expected($f) };
    my @non = grep { !matches($G{$_}, $f) } @mine;
    new_list($A, 'I', 'person', '{u1}');

    # g21 is a cto at other-$dom: in the catalogue, the right title, but
    # not a match
    ok lc $G{ $g->(21) }{title} eq 'cto' && !matches($G{ $g->(21) }, $f),
        'model: g21 is a cto of another domain';
    my $r = call(list => 'I', body => { selection => { searchId => 'I',
        ids => [ $e[1], $non[0], "$tag-nobody", $e[0], $e[1], $g->(21) ] } });
    result_is $r, [ 'ok', 2, 2 ], 'only the given ids the search matches';
    is_deeply members($A, 'I'), [ @e[0, 1] ], 'ids mode: ids';

    result_is call(list => 'I', body => { selection => { searchId => 'I', ids => [ @non[0 .. 3] ] } }),
        [ 'ok', 0, 0 ], 'no given id matches: nothing';

    # a tenant record of its own is merged with, not replaced by, the catalogue
    su(sprintf "DELETE FROM tenant.persons WHERE org_id = %s AND id = %s;\n"
       . "INSERT INTO tenant.persons (org_id, id, profile) VALUES (%s, %s, %s);\n",
       $a_, lit($e[2]), $a_, lit($e[2]), jlit({ title => 'Our own title', notes => 'ours' }));
    result_is call(list => 'I', body => { selection => { searchId => 'I', ids => [ $e[2] ] } }),
        [ 'ok', 1, 1 ], 'a prospect the organization holds';
    is_deeply tenant_profile($A, $e[2]),
        { %{ global_profile($e[2]) }, title => 'Our own title', notes => 'ours' },
        'bulk merge: its values stay, the catalogue adds what it lacks';
};


subtest 'atomicity: an error midway stores nothing' => sub {
    new_list($A, 'X', 'person', '{u1}');
    # a trigger that fails on the third of four members, for this
    # organization only
    su(failing_insert_sql($trig, $A, 'x3-boom')
       . "INSERT INTO tenant.persons (org_id, id, profile) VALUES ("
       . lit($A) . ", 'x1', '{\"id\": \"x1\"}');\n");
    my $before = footprint($A);

    my $r = call(list => 'X', body => P({ id => 'x1', title => 'merged?' }, 'x2', 'x3-boom', 'x4'));
    ok !$r->{ok}, 'the forced failure fails the call';
    is $r->{sqlstate}, 'XX001', 'with the error raised';
    is_deeply footprint($A), $before, 'nothing of it is stored: no copy, no merge, no member';
    is_deeply members($A, 'X'), [], 'the list is empty';

    su("DROP SCHEMA $trig CASCADE;\n");
    result_is call(list => 'X', body => P('x1', 'x2', 'x3-boom', 'x4')), [ 'ok', 4, 4 ],
        'the same request works without the failure';
};


# Runs each body in its own psql session as leadlist_app; the sessions wait
# on an advisory lock and are released together.
sub race {
    my ($list, @bodies) = @_;

    my $ctl = open_session('su');
    print $ctl "SELECT pg_advisory_lock(7002, $lockk);\n";
    my $wait = sub {
        my ($what, $want) = @_;
        for (1 .. 200) {
            my $n = su("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                       . " AND classid = 7002 AND objid = $lockk AND $what;\n")->[0][0];
            return 1 if $n == $want;
            sleep 0.05;
        }
        return 0;
    };
    $wait->('granted', 1) or die 'the barrier lock was not taken';

    my @h = map {
        spawn_psql('app', "BEGIN;\nSELECT pg_advisory_xact_lock_shared(7002, $lockk);\n"
                   . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => $list,
                                       body => $_)
                   . "COMMIT;\n")
    } @bodies;

    ok $wait->('NOT granted', scalar @bodies), 'all sessions wait at the barrier';
    print $ctl "SELECT pg_advisory_unlock(7002, $lockk);\n";
    close $ctl;

    return map { reap_psql($_) } @h;
}

subtest 'concurrency: overlapping adds count each prospect once' => sub {
    new_list($A, 'C', 'person', '{u1}');
    my @ids = map { sprintf 'c%03d', $_ } 1 .. 60;
    # eight windows of 20 ids, 6 apart, wrapping: every id in two to four
    # requests, each request in its own shuffled order
    my @bodies = map {
        my $k = $_;
        srand($k);
        P(map { { id => $_, by => "worker $k" } } shuffle map { $ids[ ($k * 6 + $_) % 60 ] } 0 .. 19)
    } 0 .. 7;

    my @r = race('C', @bodies);
    is scalar(grep { $_->{ok} } @r), 8, 'every request succeeded (no deadlock)'
        or diag join "\n", map { $_->{err} } @r;
    is_deeply [ map { $_->{rows}[0][0] } @r ], [ ('ok') x 8 ], 'every outcome ok';
    is sum0(map { $_->{rows}[0][1] // 0 } @r), 60, 'added counts sum to the distinct prospects';
    is_deeply members($A, 'C'), \@ids, 'each is in the list once';
    is su("SELECT count(*) FROM tenant.persons WHERE org_id = $a_ AND id LIKE 'c___'"
          . " AND profile ? 'by';\n")->[0][0], 60, 'each copied once';

    new_list($A, 'CB', 'person', '{u1}');
    my $f = { companyDomains => [$dom] };
    new_search($A, 'CB', $f);
    my @e = @{ expected($f) };
    @bodies = map { { selection => { searchId => 'CB', selectAll => \1,
                                     offset => $_ * 3, limit => 10 } } } 0 .. 5;
    my %union;
    $union{$_}++ for map { my $o = $_ * 3; grep { defined } @e[ $o .. $o + 9 ] } 0 .. 5;

    @r = race('CB', @bodies);
    is scalar(grep { $_->{ok} } @r), 6, 'bulk: every request succeeded'
        or diag join "\n", map { $_->{err} } @r;
    is sum0(map { $_->{rows}[0][1] // 0 } @r), scalar(keys %union),
        'bulk: added counts sum to the distinct prospects';
    is_deeply members($A, 'CB'), [ sort keys %union ], 'bulk: each is in the list once';
};


# The plan of the function's page query, as leadlist_app, with the given
# planner methods turned off; auto_explain's output comes as notices.
sub page_plan {
    my ($search, @off) = @_;
    return su_try("LOAD 'auto_explain';\n"
        . "SET auto_explain.log_min_duration = 0;\n"
        . "SET auto_explain.log_nested_statements = on;\n"
        . "SET auto_explain.log_level = notice;\n"
        . join('', map { "SET enable_$_ = off;\n" } @off)
        . "SET ROLE leadlist_app;\n"
        . "BEGIN;\n"
        . add_prospects_sql(org => $A, user => 'u1', admin => 0, list => 'E',
                            body => { selection => { searchId => $search, selectAll => \1,
                                                     limit => 10 } })
        . "ROLLBACK;\n", messages => 'notice');
}

subtest 'every filter can use its index' => sub {
    # With sequential, plain and index-only scans off, the only way left to
    # find matches is a bitmap scan of the filter's own index: if the
    # function tested anything but the indexed column, the plan would fall
    # back to the disabled sequential scan.
    new_list($A, 'E', 'person', '{u1}');
    for my $key (sort keys %field) {
        (my $col = $field{$key}) =~ s/([A-Z])/_\l$1/g;
        new_search($A, "E-$key", { $key => ['Value'] });
        my $r = page_plan("E-$key", qw(seqscan indexscan indexonlyscan));
        ok $r->{ok}, "$key: the call ran" or diag $r->{err};
        like $r->{err}, qr/Bitmap Index Scan on persons_search_${col}_idx\b/,
            "$key: uses persons_search_${col}_idx";
        unlike $r->{err}, qr/Seq Scan on persons/, "$key: no sequential scan";
    }
};

subtest 'a page of any filter but departments can be read from persons_search_idx alone' => sub {
    # With only index-only scans left, a page over every key but
    # departments must still be found, in id order, in persons_search_idx,
    # with no table access: the index holds every text column a filter
    # tests.  The departments, whose number has no bound, are not in it
    # (sql/007), so a filter on them must read the table.
    # An index-only scan skips the table only on pages the visibility map
    # marks all-visible (autovacuum's work); a cluster just loaded has
    # none yet, and the planner rightly prefers the table then.
    # enable_indexscan = off also charges index-only scans its disable
    # cost, so among the disabled paths the smaller index wins: the
    # indexes are rebuilt first, as after a load, so that pages emptied by
    # earlier runs' deletes (other test files' too) do not decide.
    my %every = map { $_ => ['Value'] } grep { $_ ne 'departments' } keys %field;
    new_search($A, 'E-every', \%every);
    new_search($A, 'E-deps', { %every, departments => ['Value'] });
    su("REINDEX TABLE global.persons;\nVACUUM global.persons;\n");
    my $r = page_plan('E-every', qw(seqscan indexscan bitmapscan));
    ok $r->{ok}, 'the call ran' or diag $r->{err};
    like $r->{err}, qr/Index Only Scan using persons_search_idx on persons p\b/,
        'the page is an index-only scan of persons_search_idx';
    unlike $r->{err}, qr/Seq Scan on persons|Sort Key: p\.id/,
        'no sequential scan, no sort of the matches';

    $r = page_plan('E-deps', qw(seqscan indexscan bitmapscan));
    ok $r->{ok}, 'with departments, the call ran' or diag $r->{err};
    unlike $r->{err}, qr/Index Only Scan using persons_search_idx on persons p\b/,
        'with departments, the page is not read from the index alone';
};

subtest 'the search columns follow every write of the catalogue' => sub {
    # Other services write only id and profile; the columns a search tests
    # must change with the profile, or a search would select by old values.
    my $id = "$tag-w01";
    my %p = (id => $id, title => 'Chief Wizard', companyDomain => $dom,
             departments => ['Magic']);
    su(sprintf "INSERT INTO global.persons VALUES (%s, %s);\n", lit($id), jlit(\%p));
    new_list($A, 'W', 'person', '{u1}');
    new_search($A, 'W1', { companyDomains => [$dom], titles => ['CHIEF WIZARD'] });
    new_search($A, 'W2', { companyDomains => [$dom], titles => ['archmage'],
                           departments => ['sorcery'] });
    my $ids = sub { return call(list => 'W', body => { selection => {
                        searchId => $_[0], ids => [$id] } }) };
    result_is $ids->('W1'), [ 'ok', 1, 1 ], 'a person inserted by another writer is found';
    result_is $ids->('W2'), [ 'ok', 0, 0 ], 'and not by values it does not have';

    su(sprintf "UPDATE global.persons SET profile = profile || %s WHERE id = %s;\n",
       jlit({ title => 'Archmage', departments => ['Sorcery'] }), lit($id));
    su("DELETE FROM tenant.lead_list_persons WHERE org_id = $a_ AND lead_list_id = 'W';\n");
    result_is $ids->('W1'), [ 'ok', 0, 0 ], 'after an update, the old title no longer matches';
    result_is $ids->('W2'), [ 'ok', 1, 1 ], 'the new title and departments do';

    my $r = su_try("UPDATE global.persons SET search_title = 'cto' WHERE id = "
                   . lit($id) . ";\n");
    like $r->{err}, qr/generated column/, 'not even a superuser writes a search column';
};

subtest 'long values: every catalogue row can be written, and matches exactly' => sub {
    # A btree entry holds at most 2,704 bytes: the search columns hold keys
    # of at most 65 bytes (sql/007), so no length of a field another
    # service writes can make its write fail, and a filter still compares
    # the whole value, case-insensitively.
    my $cjk  = join '', map { chr(0x4e00 + ($_ * 7919) % 20000) } 1 .. 1000;
    my @rand = map { my $k = $_; join '', map { chr(33 + ($k * 31 + $_ * 17) % 90) } 1 .. 1024 } 1 .. 3;
    my $del  = "Head\x{7f}of Sales";
    my %L = (
        "$tag-l01" => { title => $cjk, departments => [ map { ("D$_" x 300) . 'Ä' } 1 .. 300 ],
                        companyName => 'é' x 1024, city => 'ü' x 1024 },
        "$tag-l02" => { title => $rand[0], companyName => $rand[1], city => $rand[2] },
        "$tag-l03" => { title => $cjk . 'x' },
        "$tag-l04" => { title => $del },
        "$tag-l05" => { title => 'x' x 64 },
        "$tag-l06" => { title => 'x' x 65 },
    );
    $L{$_}{companyDomain} = $dom for keys %L;
    for my $id (sort keys %L) {
        my $r = su_try(sprintf "INSERT INTO global.persons VALUES (%s, %s);\n",
                       lit($id), jlit({ id => $id, %{ $L{$id} } }));
        ok $r->{ok}, "$id: the catalogue row is written" or diag $r->{err};
    }
    my $r = su_try(sprintf "UPDATE global.persons SET profile = profile || %s WHERE id = %s;\n",
                   jlit({ headline => 'x', state => 'ß' x 1024 }), lit("$tag-l02"));
    ok $r->{ok}, 'and updated' or diag $r->{err};
    my $keys = su("SELECT max(octet_length(search_title)), max(octet_length(search_city)),"
                  . " max((SELECT max(octet_length(d)) FROM unnest(search_departments) AS d(d)))"
                  . " FROM global.persons WHERE id LIKE " . lit("$tag-l%") . ";\n")->[0];
    is_deeply $keys, [ 64, 33, 33 ], 'a key is the value up to 64 bytes, else 33';

    new_list($A, 'LONG', 'person', '{u1}');
    my %want = (
        'title, CJK, in another case'  => [ { titles => [ uc $cjk ] }, "$tag-l01" ],
        'title, 1,024 random ASCII'    => [ { titles => [ lc $rand[0] ] }, "$tag-l02" ],
        'company name, 1,024 é in É'   => [ { companyNames => [ 'É' x 1024 ] }, "$tag-l01" ],
        'city, 1,024 random ASCII'     => [ { cities => [ uc $rand[2] ] }, "$tag-l02" ],
        'one long department'          => [ { departments => [ lc(('D7' x 300) . 'ä') ] }, "$tag-l01" ],
        'a title with DEL'             => [ { titles => [ uc $del ] }, "$tag-l04" ],
        '64 bytes, plain'              => [ { titles => [ 'X' x 64 ] }, "$tag-l05" ],
        '65 bytes, a digest'           => [ { titles => [ 'X' x 65 ] }, "$tag-l06" ],
        'one character more'           => [ { titles => [ $cjk . 'xy' ] } ],
        'one character less'           => [ { titles => [ substr $cjk, 1 ] } ],
        'the key itself'               => [ { titles => [ "\x{7f}" . su("SELECT md5(lower("
                                              . lit($cjk) . "));\n")->[0][0] ] } ],
        'a department cut short'       => [ { departments => [ 'D7' x 300 ] } ],
    );
    my $n = 0;
    for my $name (sort keys %want) {
        my ($f, @ids) = @{ $want{$name} };
        new_search($A, 'LONG' . ++$n, { companyDomains => [$dom], %$f });
        my $r = call(list => 'LONG', body => { selection => { searchId => "LONG$n",
                                                             selectAll => \1 } },
                     flags => 3);
        ok $r->{ok}, "$name: the call ran" or diag $r->{err};
        my $resp = $r->{ok} ? JSON::PP->new->decode($r->{rows}[0][3]) : {};
        is_deeply [ sort @{ $resp->{added} // [] }, @{ $resp->{alreadyInList} // [] } ],
            [ sort @ids ], "$name: selects @{[ scalar @ids ]}";
    }
};

subtest 'a profile that is not an object is copied once and never merged' => sub {
    # SPEC 2 makes global.persons.profile jsonb, not an object: such a
    # prospect is added like any other, and a copy the organization holds
    # is never overwritten, whatever either of them is.
    my %odd = ("$tag-o01" => [ 'not', 'an', 'object' ], "$tag-o02" => 'text',
               "$tag-o03" => 42);
    su(join '', map { sprintf "INSERT INTO global.persons VALUES (%s, %s);\n",
                      lit($_), jlit(JSON::PP->new->allow_nonref->encode($odd{$_})) }
                sort keys %odd);
    new_search($A, 'ODD', {});
    my @ids = sort keys %odd;
    for my $list ('ODD1', 'ODD2') {
        new_list($A, $list, 'person', '{u1}');
        my $sel = { selection => { searchId => 'ODD', ids => \@ids } };
        result_is call(list => $list, body => $sel), [ 'ok', 3, 3 ],
            "$list: the first add copies all three";
        result_is call(list => $list, body => $sel), [ 'ok', 0, 3 ],
            "$list: the second finds them in the list";
    }
    my $copy = sub { JSON::PP->new->allow_nonref->decode(su(sprintf "SELECT profile"
                         . " FROM tenant.persons WHERE org_id = %s AND id = %s;\n",
                         $a_, lit($_[0]))->[0][0]) };
    is_deeply [ map { $copy->($_) } @ids ], [ map { $odd{$_} } @ids ],
        'the copies are the catalogue\'s, once';

    # a copy that is not an object, and one that is, under a request's
    # object and a catalogue array
    su(sprintf "INSERT INTO tenant.persons VALUES (%s, %s, '[1]'), (%s, %s, '{\"a\": 1}');\n",
       $a_, lit("$tag-o04"), $a_, lit("$tag-o05"));
    su(sprintf "INSERT INTO global.persons VALUES (%s, '[2]');\n", lit("$tag-o05"));
    new_list($A, 'ODD3', 'person', '{u1}');
    result_is call(list => 'ODD3', body => P({ id => "$tag-o04", title => 'T' })),
        [ 'ok', 1, 1 ], 'a request\'s object beside an array copy: added';
    result_is call(list => 'ODD3', body => { selection => { searchId => 'ODD',
                                                           ids => [ "$tag-o05" ] } }),
        [ 'ok', 1, 1 ], 'a catalogue array beside an object copy: added';
    is_deeply [ map { $copy->($_) } "$tag-o04", "$tag-o05" ], [ [1], { a => 1 } ],
        'both copies are kept as they were';
};

done_testing();
