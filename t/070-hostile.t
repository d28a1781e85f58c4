# Hostile input (SPEC 1.2, 1.3, 1.5): bodies and requests built to break a
# parser, a limit or the HTTP layer, each answered with its exact status and,
# where the answer is deterministic, its exact JSON details; nothing of them
# is stored, and the worker is alive afterwards.
#
# Each block is a group of hostile requests (one connection each) that ends
# with a normal valid request answered 200: the worker survived the group.
# Unless a block says otherwise, it also checks after its last request that
# the only row stored is that valid request's ("alive"), and that the error
# log has no [alert], [crit], [emerg], [error] or "exited on signal"
# (master_on: a worker that crashed is logged and replaced, so a crash
# cannot hide behind a restart).  Blocks that need a connection of their
# own (raw_request, pipelining, a half-closed socket) are followed by a
# block that proves the same nginx still answers.
#
# Unlike t/030 (one rule per block), this file throws many variants of the
# same attack at the endpoint; where t/030 has a case, the one here is a
# different place or spelling of it.  Requests are sent with an exact
# Content-Length (the preprocessor adds it), so leading and trailing bytes
# of a body are sent as they are.
#
# Hostile requests: 199 in 27 groups (a request eval array counts per
# request; the valid requests are not counted), plus 3 blocks that only
# show that the same nginx still serves.  227 requests in all.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();
master_on();
workers(1);

# valgrind makes nginx many times slower (a first SCRAM login takes
# seconds): wait longer for each answer with it
timeout($ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 5);

sub reset_db {
    db_fixture('t070', lists => [['list-a', 'person', 'u-1']]);
}

reset_db();

our $H = "Authorization: Bearer user=u-1;org=t070\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';
our $CONFIG = "    log_not_found off;\n"
              . endpoint("        client_body_timeout 1s;\n"
                         . "        lingering_timeout 1s;");

# 400 with one detail about the body as a whole
# one detail: the message, on field (default "", the body)
sub body_bad { return bad([$_[1] // '', $_[0]]) }

our $BAD_ID = err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']]);
our $BAD_TYPE = err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']]);
our $BAD_CHARSET = err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'charset must be utf-8']]);
our $TWO_TYPES = err_re('BAD_REQUEST', 'Invalid Content-Type',
    [['Content-Type', 'must be sent once']]);
our $NOT_ALLOWED = err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST');
our $NOT_FOUND = err('NOT_FOUND', 'Lead list not found');

# nginx's own HTML error page: the request never reached the endpoint
sub html { my ($status) = @_; return qr/<title>\Q$status\E<\/title>/ }

sub utf16le { my $o = "\xff\xfe"; $o .= pack('v', ord) for split //, $_[0]; $o }
sub utf16be { my $o = ''; $o .= pack('n', ord) for split //, $_[0]; $o }
sub utf32le { my $o = "\xff\xfe\x00\x00"; $o .= pack('V', ord) for split //, $_[0]; $o }

# "POST uri\nbody" for request eval
sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }

# the valid request that ends each group, and its answer
our $OK = post('{"persons":[{"id":"alive"}]}');
our $OKRE = qr/^\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}\z/;

# a valid body of the same length, for requests that must not get through
our $CT = post('{"persons":[{"id":"p-ct!"}]}');

# n members "k0": 0 ... in JSON text (no braces)
sub members { my ($n) = @_; return CORE::join(',', map { qq("k$_":0) } 0 .. $n - 1) }

# a person object of exactly $size bytes as sent, padded with 'x', with
# 2-byte characters ("e": U+00E9), or with whitespace between members (" ")
sub person_of_size {
    my ($id, $size, $how) = @_;
    $how //= 'x';
    if ($how eq ' ') {
        my $pre = qq({"id":"$id",);
        my $post = '"blob":"x"}';
        return $pre . (' ' x ($size - length($pre) - length($post))) . $post;
    }
    my $pre = qq({"id":"$id","blob":");
    my $post = '"}';
    my $n = $size - length($pre) - length($post);
    my $fill = $how eq 'e' ? ("\xc3\xa9" x int($n / 2)) . ('x' x ($n % 2))
                           : 'x' x $n;
    return $pre . $fill . $post;
}

# the body the truncation block cuts, and the cut points with jansson's
# message for each (the column is where the text stops)
our $WHOLE = '{"persons":[{"id":"p-1","firstName":"Ann","departments":["Sales"],"x":{"k":[1,-2.5e3,true,null]}}]}';

sub cut { return substr($WHOLE, 0, $_[0]) }

# the body of a request as the preprocessor sends it
sub body_of {
    my ($r) = @_;
    $r = CORE::join('', map { ref $_ ? $_->{value} : $_ } @$r) if ref $r;
    my (undef, $body) = split /\n/, $r, 2;
    $body //= '';
    utf8::encode($body) if utf8::is_utf8($body);
    return $body;
}

# headers $hdrs plus the exact Content-Length of request $req
sub with_len {
    my ($hdrs, $req) = @_;
    return "$hdrs\nContent-Length: " . length(body_of($req));
}

our @NO_ERRORS = ('[alert]', '[crit]', '[emerg]', 'exited on signal', '[error]');

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $http_config)
        unless defined $block->http_config;
    $block->set_value(config => $CONFIG)
        unless defined $block->config || defined $block->same_nginx;
    $block->set_value(init => 'reset_db()') unless defined $block->init;
    $block->set_value(no_error_log => [@NO_ERRORS])
        unless defined $block->no_error_log;

    return if defined $block->raw_request || defined $block->pipelined_requests;

    my $req = $block->request;
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);

    # exact bytes: a Content-Length of the body as it is
    $block->set_value(more_headers => [map { "$H\nContent-Length: "
                                             . length(body_of($_)) } @reqs])
        unless defined $block->more_headers;
    $block->set_value(response_headers_like =>
                      [("Content-Type: application/json\n"
                        . "X-Request-Id: [0-9a-f]{32}\n") x @reqs])
        unless defined $block->response_headers_like
            || defined $block->response_headers;
    unless (defined $block->db_check) {
        $block->set_value(db_check => [
            "SELECT coalesce(string_agg(person_id, ',' ORDER BY person_id), '-') FROM tenant.lead_list_persons WHERE org_id = 't070';",
            "SELECT count(*) FROM tenant.persons WHERE org_id = 't070';"]);
        $block->set_value(db_expected => ['alive', '1']);
    }
});

run_tests();

__DATA__

=== TEST 1: truncated JSON, cut at 26 points (in keys, values, escapes, a UTF-8 character, numbers, between tokens)
--- request eval
[(map { main::post(main::cut($_)) } 1, 2, 5, 11, 12, 13, 17, 18, 24, 25, 38, 52, 55, 70, 76, 82, 88, 94, 96, 97, 98),
 main::post('{"persons":[{"id":"p-\u00'),
 main::post(qq({"persons":[{"id":"p-\xc3)),
 main::post('{"persons":[{"id":"p-1","x":1e'),
 main::post('{"persons":[{"id":"p-1","x":-'),
 main::post('{"persons":[{"id":"p-1","x":1.'),
 $::OK]
--- error_code eval
[(400) x 26, 200]
--- response_body_like eval
[(map { main::body_bad("invalid JSON: $_->[1] at line 1, column $_->[0]", $_->[2]) }
   [1, q~string or '}' expected near end of file~, ''],
   [2, q~premature end of input near '"'~, ''],
   [5, q~premature end of input near '"per'~, ''],
   [11, q~unexpected token near end of file~, 'persons'],
   [12, q~']' expected near end of file~, 'persons'],
   [13, q~string or '}' expected near end of file~, 'persons[0]'],
   [17, q~':' expected near end of file~, 'persons[0].id'],
   [18, q~unexpected token near end of file~, 'persons[0].id'],
   [24, q~string or '}' expected near end of file~, 'persons[0]'],
   [25, q~premature end of input near '"'~, 'persons[0]'],
   [38, q~premature end of input near '"A'~, 'persons[0].firstName'],
   [52, q~premature end of input near '"departmen'~, 'persons[0]'],
   [55, q~':' expected near end of file~, 'persons[0].departments'],
   [70, q~unexpected token near end of file~, 'persons[0].x'],
   [76, q~']' expected near end of file~, 'persons[0].x.k'],
   [82, q~']' expected near end of file~, 'persons[0].x.k'],
   [88, q~invalid token near 'tru'~, 'persons[0].x.k[2]'],
   [94, q~']' expected near end of file~, 'persons[0].x.k'],
   [96, q~'}' expected near end of file~, 'persons[0]'],
   [97, q~']' expected near end of file~, 'persons'],
   [98, q~'}' expected near end of file~, ''],
   [25, q~invalid escape near '"p-\u00'~, 'persons[0].id']),
 main::body_bad(q~invalid UTF-8: unable to decode byte 0xc3 near '"p-' at line 1, column 21~, 'persons[0].id'),
 main::body_bad(q~invalid JSON: invalid token near '1e' at line 1, column 30~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '-' at line 1, column 29~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '1.' at line 1, column 30~, 'persons[0].x'),
 $::OKRE]



=== TEST 2: trailing garbage: a second value, a bracket, a comma, a comment on the next line, a NUL byte, 'x' after 1 MB of spaces
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}{}'),
 main::post('{"persons":[{"id":"p-1"}]}]'),
 main::post('{"persons":[{"id":"p-1"}]},'),
 main::post(qq({"persons":[{"id":"p-1"}]}\n// trailing comment)),
 main::post(qq({"persons":[{"id":"p-1"}]}\0)),
 main::post('{"persons":[{"id":"p-1"}]}' . (' ' x 1048576) . 'x'),
 $::OK]
--- error_code eval
[(400) x 6, 200]
--- response_body_like eval
[main::body_bad(q~invalid JSON: end of file expected near '{' at line 1, column 27~),
 main::body_bad(q~invalid JSON: end of file expected near ']' at line 1, column 27~),
 main::body_bad(q~invalid JSON: end of file expected near ',' at line 1, column 27~),
 main::body_bad(q~invalid JSON: end of file expected near '/' at line 2, column 1~),
 main::body_bad(q~invalid JSON: NUL byte at line 1, column 27~),
 main::body_bad(q~invalid JSON: end of file expected near 'x' at line 1, column 1048603~),
 $::OKRE]



=== TEST 3: duplicate keys: top level, in a person, in selection, 22 levels deep in a profile member, in an array of objects, spelled with an escape
--- request eval
[main::post('{"selection":{"searchId":"s-1","ids":["a"]},"selection":{"searchId":"s-2","ids":["b"]}}'),
 main::post('{"zz":1,"persons":[{"id":"p-1"}],"zz":2}'),
 main::post('{"persons":[{"id":"p-1","firstName":"A","firstName":"B"}]}'),
 main::post('{"persons":[{"id":"p-1","custom":1,"\u0063ustom":2}]}'),
 main::post('{"persons":[{"id":"p-1"},{"id":"p-2","id":"p-2"}]}'),
 main::post('{"selection":{"searchId":"s-1","ids":["a"],"ids":["b"]}}'),
 main::post('{"selection":{"searchId":"s-1","searchId":"s-2","ids":["a"]}}'),
 main::post('{"persons":[{"id":"p-1","x":' . ('{"a":' x 20) . '{"k":1,"k":2}' . ('}' x 20) . '}]}'),
 main::post('{"persons":[{"id":"p-1","x":[{"k":1},{"k":1,"k":1}]}]}'),
 $::OK]
--- error_code eval
[(400) x 9, 200]
--- response_body_like eval
[main::body_bad(q~invalid JSON: duplicate object key near '"selection"' at line 1, column 55~),
 main::body_bad(q~invalid JSON: duplicate object key near '"zz"' at line 1, column 37~),
 main::body_bad(q~invalid JSON: duplicate object key near '"firstName"' at line 1, column 51~, 'persons[0]'),
 main::body_bad(q~invalid JSON: duplicate object key near '"\u0063ustom"' at line 1, column 48~, 'persons[0]'),
 main::body_bad(q~invalid JSON: duplicate object key near '"id"' at line 1, column 41~, 'persons[1]'),
 main::body_bad(q~invalid JSON: duplicate object key near '"ids"' at line 1, column 48~, 'selection'),
 main::body_bad(q~invalid JSON: duplicate object key near '"searchId"' at line 1, column 41~, 'selection'),
 main::body_bad(q~invalid JSON: duplicate object key near '"k"' at line 1, column 138~, 'persons[0].x' . ('.a' x 20)),
 main::body_bad(q~invalid JSON: duplicate object key near '"k"' at line 1, column 47~, 'persons[0].x[1]'),
 $::OKRE]



=== TEST 4: deep nesting: 33 levels in selection, 32 in selection (parsed: its unknown member is reported), 33 and 1,000 levels of objects at the top level, 100,000 levels as the whole body, unclosed, in persons, in an id
--- request eval
[main::post('{"selection":{"searchId":"s-1","ids":["a"],"x":' . ('[' x 31) . (']' x 31) . '}}'),
 main::post('{"selection":{"searchId":"s-1","ids":["a"],"x":' . ('[' x 30) . (']' x 30) . '}}'),
 main::post('{"persons":[{"id":"p-1"}],"deep":' . ('{"a":' x 32) . '1' . ('}' x 32) . '}'),
 main::post('{"persons":[{"id":"p-1"}],"deep":' . ('{"a":' x 1000) . '1' . ('}' x 1000) . '}'),
 main::post(('[' x 100000) . (']' x 100000)),
 main::post('{"a":' x 100000),
 main::post('{"persons":[' . ('[' x 100000)),
 main::post('{"persons":[{"id":' . ('[{"id":' x 100000)),
 $::OK]
--- error_code eval
[(400) x 8, 200]
--- response_body_like eval
[main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 78', 'selection.x' . ('[0]' x 30)),
 main::bad(['selection.x', 'unknown member']),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 189', 'deep' . ('.a' x 31)),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 189', 'deep' . ('.a' x 31)),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 33', '[0]' x 32),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 161', 'a' . ('.a' x 31)),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 43', 'persons' . ('[0]' x 31)),
 main::body_bad('must not nest arrays and objects more than 32 levels deep at line 1, column 118', 'persons[0]' . ('.id[0]' x 15)),
 $::OKRE]



=== TEST 5: numbers jsonb cannot store, in every place a number may go: 1e131072, -1e131072, 1e-100000, 16384 digits after the point, a long mantissa above 10^131071, 1E+131072, an exponent of 2^30, 1.8e-16383, 0e-100000; a 30-digit integer as a limit
--- request eval
[main::post('{"persons":[{"id":"p-1"}],"n":1e131072}'),
 main::post('{"persons":[{"id":"p-1","x":[-1e131072]}]}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"offset":1e-100000}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":123456789012345678901234567890}}'),
 main::post('{"persons":[{"id":"p-1","x":0.' . ('5' x 16384) . '}]}'),
 main::post('{"persons":[{"id":"p-1","x":' . ('7' x 100) . 'e131000}]}'),
 main::post('{"persons":[{"id":"p-1","x":1E+131072}]}'),
 main::post('{"persons":[{"id":"p-1","x":-1e1073741823}]}'),
 main::post('{"persons":[{"id":"p-1","x":1.8e-16383}]}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"excludeIds":[0e-100000]}}'),
 main::post('{"persons":[{"id":"p-1","departments":[1e-16384]}]}'),
 $::OK]
--- error_code eval
[(400) x 11, 200]
--- response_body_like eval
[main::body_bad('number out of range at line 1, column 31', 'n'),
 main::body_bad('number out of range at line 1, column 30', 'persons[0].x[0]'),
 main::body_bad('number out of range at line 1, column 58', 'selection.offset'),
 main::bad(['selection.limit', 'must be an integer from 1 to 1000']),
 (main::body_bad('number out of range at line 1, column 29', 'persons[0].x')) x 5,
 main::body_bad('number out of range at line 1, column 63', 'selection.excludeIds[0]'),
 main::body_bad('number out of range at line 1, column 40', 'persons[0].departments[0]'),
 $::OKRE]



=== TEST 6: \u0000 in searchId, in ids, in a top-level member name; a raw NUL byte in a member name, as the first byte, in a value
--- request eval
[main::post('{"selection":{"searchId":"s-\u0000","ids":["a"]}}'),
 main::post('{"selection":{"searchId":"s-1","ids":["a\u0000"]}}'),
 main::post('{"persons":[{"id":"p-1"}],"\u0000":1}'),
 main::post(qq({"persons":[{"id":"p-1"}],"k\0":1})),
 main::post(qq(\0{"persons":[{"id":"p-1"}]})),
 main::post(qq({"persons":[{"id":"p-1","firstName":"a\0"}]})),
 $::OK]
--- error_code eval
[(400) x 6, 200]
--- response_body_like eval
[main::body_bad('\u0000 is not allowed at line 1, column 35', 'selection.searchId'),
 main::body_bad('\u0000 is not allowed at line 1, column 47', 'selection.ids[0]'),
 main::body_bad('\u0000 is not allowed at line 1, column 34'),
 main::body_bad('invalid JSON: NUL byte at line 1, column 29'),
 main::body_bad('invalid JSON: NUL byte at line 1, column 1'),
 main::body_bad('invalid JSON: NUL byte at line 1, column 39', 'persons[0].firstName'),
 $::OKRE]



=== TEST 7: lone and misordered surrogate escapes: \ud800, \udfff, \udc00\ud800, \ud800\u0041, a high surrogate in searchId, a low one as a member name
--- request eval
[main::post('{"persons":[{"id":"\ud800"}]}'),
 main::post('{"persons":[{"id":"p-1","city":"\udfff"}]}'),
 main::post('{"persons":[{"id":"p-1","city":"\udc00\ud800"}]}'),
 main::post('{"persons":[{"id":"p-1","city":"\ud800\u0041"}]}'),
 main::post('{"selection":{"searchId":"\ud83d","ids":["a"]}}'),
 main::post('{"persons":[{"id":"p-1"}],"\udfff":1}'),
 $::OK]
--- error_code eval
[(400) x 6, 200]
--- response_body_like eval
[main::body_bad(q~invalid JSON: invalid Unicode '\uD800' near '"\ud800"' at line 1, column 26~, 'persons[0].id'),
 main::body_bad(q~invalid JSON: invalid Unicode '\uDFFF' near '"\udfff"' at line 1, column 39~, 'persons[0].city'),
 main::body_bad(q~invalid JSON: invalid Unicode '\uDC00' near '"\udc00\ud800"' at line 1, column 45~, 'persons[0].city'),
 main::body_bad(q~invalid JSON: invalid Unicode '\uD800\u0041' near '"\ud800\u0041"' at line 1, column 45~, 'persons[0].city'),
 main::body_bad(q~invalid JSON: invalid Unicode '\uD83D' near '"\ud83d"' at line 1, column 33~, 'selection.searchId'),
 main::body_bad(q~invalid JSON: invalid Unicode '\uDFFF' near '"\udfff"' at line 1, column 34~),
 $::OKRE]



=== TEST 8: invalid UTF-8: overlong C0 AF (in a member name) and E0 80 AF, bad continuation bytes, a lone continuation byte, 5- and 6-byte forms, above U+10FFFF, an encoded surrogate, FE FF, 0xFF outside a string
--- request eval
[main::post(qq({"persons":[{"id":"p-1","\xc0\xaf":1}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xe0\x80\xaf"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xc3\x28"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xe2\x28\xa1"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xf0\x28\x8c\xbc"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\x80"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xf8\x88\x80\x80\x80"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xfc\x84\x80\x80\x80\x80"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xf4\x90\x80\x80"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xed\xa0\x80"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"\xfe\xff"}]})),
 main::post(qq({"persons":[{"id":"p-1"}],\xff:1})),
 $::OK]
--- error_code eval
[(400) x 12, 200]
--- response_body_like eval
[main::body_bad(q~invalid UTF-8: unable to decode byte 0xc0 near '"' at line 1, column 25~, 'persons[0]'),
 (map { main::body_bad(qq{invalid UTF-8: unable to decode byte $_ near '"' at line 1, column 32}, 'persons[0].city') }
      qw(0xe0 0xc3 0xe2 0xf0 0x80 0xf8 0xfc 0xf4 0xed 0xfe)),
 main::body_bad(q~invalid UTF-8: unable to decode byte 0xff at line 1, column 26~),
 $::OKRE]



=== TEST 9: encodings other than UTF-8: UTF-16LE with a BOM, UTF-16BE without, UTF-32LE, a UTF-8 BOM, a UTF-8 BOM after a space
--- request eval
[main::post(main::utf16le('{"persons":[{"id":"p-1"}]}')),
 main::post(main::utf16be('{"persons":[{"id":"p-1"}]}')),
 main::post(main::utf32le('{"persons":[{"id":"p-1"}]}')),
 main::post(qq(\xef\xbb\xbf{"selection":{"searchId":"s-1","ids":["a"]}})),
 main::post(qq( \xef\xbb\xbf{"persons":[{"id":"p-1"}]})),
 $::OK]
--- error_code eval
[(400) x 5, 200]
--- response_body_like eval
[main::body_bad('invalid JSON: NUL byte at line 1, column 4'),
 main::body_bad('invalid JSON: NUL byte at line 1, column 1'),
 main::body_bad('invalid JSON: NUL byte at line 1, column 3'),
 main::body_bad('must not start with a UTF-8 byte order mark'),
 main::body_bad(main::u8(qq{invalid JSON: invalid token near '\x{feff}' at line 1, column 2})),
 $::OKRE]



=== TEST 10: huge keys and objects: a 1 MB member name at the top level, in selection and in a person; 100,000 members at the top level, in selection and in a person; 300,000 values outside the persons
--- request eval
[main::post('{"persons":[{"id":"p-1"}],"' . ('k' x 1048576) . '":1}'),
 main::post('{"selection":{"searchId":"s-1","ids":["a"],"' . ('k' x 1048576) . '":1}}'),
 main::post('{"persons":[{"id":"p-1","' . ('k' x 1048576) . '":1}]}'),
 main::post('{"persons":[{"id":"p-1"}],' . main::members(100000) . '}'),
 main::post('{"selection":{"searchId":"s-1","ids":["a"],' . main::members(100000) . '}}'),
 main::post('{"persons":[{"id":"p-1",' . main::members(100000) . '}]}'),
 main::post('{"persons":[{"id":"p-1"}],"x":[' . CORE::join(',', (0) x 300000) . ']}'),
 $::OK]
--- error_code eval
[(400) x 7, 200]
--- response_body_like eval
[main::bad([('k' x 252) . '...', 'unknown member']),
 main::bad(['selection.' . ('k' x 242) . '...', 'unknown member']),
 main::bad(['persons[0]', 'must be at most 65536 bytes']),
 main::bad(map { ["k$_", 'unknown member'] } 0 .. 99),
 main::bad(map { ["selection.k$_", 'unknown member'] } 0 .. 99),
 main::bad(['persons[0]', 'must be at most 65536 bytes']),
 main::body_bad('must not hold more than 262144 JSON values outside the persons'),
 $::OKRE]



=== TEST 11: ids with control characters: \t, \n, \u007f, \u0085 in searchId (looked up: no such search; in ids and excludeIds they are ids the search does not match); raw DEL, U+0085 and U+009F in person ids; control characters in a member name are shown as "?"
--- request eval
[main::post('{"selection":{"searchId":"s\t1","ids":["a\n","b\u007f","c\u0085"],"x":1}}'),
 main::post('{"selection":{"searchId":"s\u0009","selectAll":true,"excludeIds":["ok","\u0009"]}}'),
 main::post(qq({"persons":[{"id":"p\x7f1"}]})),
 main::post(qq({"persons":[{"id":"p\xc2\x851"}]})),
 main::post(qq({"persons":[{"id":"p\xc2\x9f"},{"id":"p\xc2\xa0"}]})),
 main::post('{"persons":[{"id":"p-1"}],"a\tb\u007fc\u001fd":1}'),
 $::OK]
--- error_code eval
[(400) x 6, 200]
--- response_body_like eval
[main::bad(['selection.x', 'unknown member']),
 main::bad(['selection.searchId', 'no such saved search']),
 main::bad(['persons[0].id', 'must not contain control characters']),
 main::bad(['persons[0].id', 'must not contain control characters']),
 main::bad(['persons[0].id', 'must not contain control characters']),
 main::bad(['a?b?c?d', 'unknown member']),
 $::OKRE]



=== TEST 12: control characters raw inside strings: a tab and a newline in an id, 0x01 and 0x1F in a value, a tab in a member name
--- request eval
[main::post(qq({"persons":[{"id":"p\t1"}]})),
 main::post(qq({"persons":[{"id":"p\n1"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"a\x01b"}]})),
 main::post(qq({"persons":[{"id":"p-1","city":"a\x1f"}]})),
 main::post(qq({"persons":[{"id":"p-1"}],"sel\tection":1})),
 $::OK]
--- error_code eval
[(400) x 5, 200]
--- response_body_like eval
[main::body_bad(q~invalid JSON: control character 0x9 near '"p' at line 1, column 20~, 'persons[0].id'),
 main::body_bad(q~invalid JSON: unexpected newline near '"p' at line 1, column 20~, 'persons[0].id'),
 main::body_bad(q~invalid JSON: control character 0x1 near '"a' at line 1, column 33~, 'persons[0].city'),
 main::body_bad(q~invalid JSON: control character 0x1f near '"a' at line 1, column 33~, 'persons[0].city'),
 main::body_bad(q~invalid JSON: control character 0x9 near '"sel' at line 1, column 30~),
 $::OKRE]



=== TEST 13: arrays where objects belong and the reverse: persons as an object and as true, a person as an array, a person wrapped in an array, selection as an array and as a string, ids and excludeIds as objects, nested arrays for strings, objects for integers
--- request eval
[main::post('{"persons":{"0":{"id":"p-1"}}}'),
 main::post('{"persons":true}'),
 main::post('{"persons":[["id","p-1"]]}'),
 main::post('{"persons":[[{"id":"p-1"}]]}'),
 main::post('{"selection":[{"searchId":"s-1","ids":["a"]}]}'),
 main::post('{"selection":"s-1"}'),
 main::post('{"selection":{"searchId":"s-1","ids":{"0":"a"}}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"excludeIds":{"a":true}}}'),
 main::post('{"selection":{"searchId":["s-1"],"ids":[["a"]]}}'),
 main::post('{"persons":[{"id":{"id":"p-1"},"departments":{"0":"Sales"}}]}'),
 main::post('{"persons":[{"id":"p-1","firstName":["Ann"],"departments":[["Sales"]]}]}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"offset":{},"limit":[]}}'),
 $::OK]
--- error_code eval
[(400) x 12, 200]
--- response_body_like eval
[main::bad(['persons', 'must be an array of 1 to 1000 items']),
 main::bad(['persons', 'must be an array of 1 to 1000 items']),
 main::bad(['persons[0]', 'must be an object']),
 main::bad(['persons[0]', 'must be an object']),
 main::bad(['selection', 'must be an object']),
 main::bad(['selection', 'must be an object']),
 main::bad(['selection.ids', 'must be an array of 1 to 1000 items']),
 main::bad(['selection.excludeIds', 'must be an array of at most 10000 items']),
 main::bad(['selection.searchId', 'must be a string'], ['selection.ids[0]', 'must be a string']),
 main::bad(['persons[0].id', 'must be a string'], ['persons[0].departments', 'must be an array of strings or null']),
 main::bad(['persons[0].firstName', 'must be a string or null'], ['persons[0].departments[0]', 'must be a string']),
 main::bad(['selection.offset', 'must be an integer from 0 to 999999999999999999'], ['selection.limit', 'must be an integer from 1 to 1000']),
 $::OKRE]



=== TEST 14: too many persons: 1,001 numbers, 1,000,000 items, 1,000 persons and a trailing comma; 1,001 persons under another name are not persons
--- request eval
[main::post('{"persons":[' . CORE::join(',', (0) x 1001) . ']}'),
 main::post('{"persons":[' . CORE::join(',', (0) x 1000000) . ']}'),
 main::post('{"persons":[' . CORE::join(',', ('{"id":"p"}') x 1000) . ',]}'),
 main::post('{"x":[' . CORE::join(',', ('{"id":"p"}') x 1001) . '],"persons":[{"id":"p"}]}'),
 $::OK]
--- error_code eval
[(400) x 4, 200]
--- response_body_like eval
[main::bad(['persons', 'must be an array of 1 to 1000 items']),
 main::bad(['persons', 'must be an array of 1 to 1000 items']),
 main::body_bad(q~invalid JSON: unexpected token near ']' at line 1, column 11013~, 'persons'),
 main::bad(['x', 'unknown member']),
 $::OKRE]



=== TEST 15: persons of 64 KiB + 1 bytes as sent, counted in bytes of 2-byte characters, in whitespace, and next to one of exactly 64 KiB; exactly 64 KiB of 2-byte characters is accepted
--- request eval
[main::post('{"persons":[' . main::person_of_size('big', 65537, 'e') . ']}'),
 main::post('{"persons":[' . main::person_of_size('big', 65537, ' ') . ']}'),
 main::post('{"persons":[' . main::person_of_size('a', 65537) . ',' . main::person_of_size('b', 65536) . ']}'),
 main::post('{"persons":[' . main::person_of_size('big', 65536, 'e') . ']}')]
--- error_code eval
[400, 400, 400, 200]
--- response_body_like eval
[(main::bad(['persons[0]', 'must be at most 65536 bytes'])) x 3,
 $::OKRE]
--- db_check
SELECT string_agg(person_id, ',') FROM tenant.lead_list_persons WHERE org_id = 't070';
SELECT id, char_length(profile->>'blob'), octet_length(profile->>'blob') FROM tenant.persons WHERE org_id = 't070';
--- db_expected
big
big	32757	65514



=== TEST 16: bodies that are not objects: empty with Content-Length 0, no Content-Length at all, whitespace only, null, [], "string", 0, true, false, -1.5e3, an array holding the object
--- more_headers eval
["$::H\nContent-Length: 0",
 $::H,
 map { main::with_len($::H, $_) } main::post(" \t\r\n "),
     (map { main::post($_) } 'null', '[]', '"string"', '0', 'true', 'false', '-1.5e3', '[{"persons":[{"id":"p-1"}]}]'),
     $::OK]
--- request eval
[main::post(''),
 main::post(''),
 main::post(" \t\r\n "),
 (map { main::post($_) } 'null', '[]', '"string"', '0', 'true', 'false', '-1.5e3', '[{"persons":[{"id":"p-1"}]}]'),
 $::OK]
--- error_code eval
[(400) x 11, 200]
--- response_body_like eval
[(main::body_bad('must be a JSON object; the body is empty')) x 3,
 (main::body_bad('must be a JSON object')) x 8,
 $::OKRE]



=== TEST 17: JSON extensions: comments, single quotes, NaN, Infinity, -Infinity, hex, leading zeros, a plus sign, a bare fraction, trailing commas in an array, an object and the body
--- request eval
[main::post('{/* c */"persons":[{"id":"p-1"}]}'),
 main::post(qq({"persons":[{"id":"p-1"} // c\n]})),
 main::post(q({'persons':[{'id':'p-1'}]})),
 main::post(q({"persons":[{"id":'p-1'}]})),
 main::post('{"persons":[{"id":"p-1","x":NaN}]}'),
 main::post('{"persons":[{"id":"p-1","x":Infinity}]}'),
 main::post('{"persons":[{"id":"p-1","x":-Infinity}]}'),
 main::post('{"persons":[{"id":"p-1","x":0x1F}]}'),
 main::post('{"persons":[{"id":"p-1","x":007}]}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":010}}'),
 main::post('{"persons":[{"id":"p-1","x":+1}]}'),
 main::post('{"persons":[{"id":"p-1","x":.5}]}'),
 main::post('{"persons":[{"id":"p-1"},]}'),
 main::post('{"persons":[{"id":"p-1",}]}'),
 main::post('{"persons":[{"id":"p-1"}],}'),
 $::OK]
--- error_code eval
[(400) x 15, 200]
--- response_body_like eval
[main::body_bad(q~invalid JSON: string or '}' expected near '/' at line 1, column 2~),
 main::body_bad(q~invalid JSON: ']' expected near '/' at line 1, column 26~, 'persons'),
 main::body_bad(q~invalid JSON: string or '}' expected near ''' at line 1, column 2~),
 main::body_bad(q~invalid JSON: invalid token near ''' at line 1, column 19~, 'persons[0].id'),
 main::body_bad(q~invalid JSON: invalid token near 'NaN' at line 1, column 31~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near 'Infinity' at line 1, column 36~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '-' at line 1, column 29~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: '}' expected near 'x' at line 1, column 30~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '0' at line 1, column 29~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '0' at line 1, column 57~, 'selection.limit'),
 main::body_bad(q~invalid JSON: invalid token near '+' at line 1, column 29~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: invalid token near '.' at line 1, column 29~, 'persons[0].x'),
 main::body_bad(q~invalid JSON: unexpected token near ']' at line 1, column 26~, 'persons'),
 main::body_bad(q~invalid JSON: string or '}' expected near '}' at line 1, column 25~, 'persons[0]'),
 main::body_bad(q~invalid JSON: string or '}' expected near '}' at line 1, column 27~),
 $::OKRE]



=== TEST 18: Content-Type tricks: two Content-Type headers (either order), a list, a parameter without value, an unterminated quote, a second charset, spaces around '=', an empty value, utf-16
--- more_headers eval
[map { main::with_len("Authorization: Bearer user=u-1;org=t070\n$_", $::CT) }
 "Content-Type: application/json\nContent-Type: text/plain",
 "Content-Type: text/plain\nContent-Type: application/json",
 "Content-Type: application/json, text/plain",
 "Content-Type: application/json; charset",
 "Content-Type: application/json; charset=\"utf-8",
 "Content-Type: application/json; charset=utf-8; charset=latin1",
 "Content-Type: application/json ; charset = utf-8",
 "Content-Type: ",
 "Content-Type: application/json; charset=utf-16",
 "Content-Type: application/json; charset=utf-8; boundary=x"]
--- request eval
[($::CT) x 9, $::OK]
--- error_code eval
[(400) x 9, 200]
--- response_body_like eval
[($::TWO_TYPES) x 2, ($::BAD_TYPE) x 3, $::BAD_CHARSET, ($::BAD_TYPE) x 2,
 $::BAD_CHARSET, $::OKRE]
--- db_check
SELECT string_agg(person_id, ',') FROM tenant.lead_list_persons WHERE org_id = 't070';
--- db_expected
alive



=== TEST 19: Content-Length and Transfer-Encoding tricks refused by nginx before any location (HTML, the endpoint never runs): negative, overflowing, repeated, with chunked, an unknown coding
--- more_headers eval
[map { "$::H\n$_" }
 "Content-Length: -1",
 "Content-Length: 99999999999999999999",
 "Content-Length: 27\nContent-Length: 28",
 "Content-Length: 27, 27",
 "Content-Length: 27\nTransfer-Encoding: chunked",
 "Transfer-Encoding: gzip",
 "Content-Length: 28"]
--- request eval
[(main::post('{"persons":[{"id":"p-cl"}]}')) x 6, $::OK]
--- error_code eval
[400, 400, 400, 400, 400, 501, 200]
--- response_headers_like eval
[(undef) x 6, "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
[(main::html('400 Bad Request')) x 5, main::html('501 Not Implemented'), $::OKRE]



=== TEST 20: a Content-Length far over client_max_body_size, body not sent: 413 JSON at once when signed in, 401 when not
--- more_headers eval
["$::H\nContent-Length: 1073741824",
 "Content-Type: application/json\nContent-Length: 1073741824",
 "$::H\nContent-Length: 31457281",
 "$::H\nContent-Length: 28"]
--- request eval
[(main::post('{"persons":[{"id":"p-cl"}]}')) x 3, $::OK]
--- error_code eval
[413, 401, 413, 200]
--- response_body_like eval
[main::err('PAYLOAD_TOO_LARGE', 'Request body is too large'),
 main::err('UNAUTHORIZED', 'Authentication required'),
 main::err('PAYLOAD_TOO_LARGE', 'Request body is too large'),
 $::OKRE]



=== TEST 21: a chunked body with an overflowing chunk size: nginx's 400 (nginx logs it at [error] itself), as JSON with details
--- more_headers eval
["$::H\nTransfer-Encoding: chunked", "$::H\nContent-Length: 28"]
--- request eval
[main::post("fffffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"), $::OK]
--- error_code eval
[400, 200]
--- no_error_log eval
[grep { $_ ne '[error]' } @::NO_ERRORS]
--- response_body_like eval
['^\{"code":"BAD_REQUEST","message":"[^"]+","details":\[\{"field":"[^"]*","message":"[^"]+"\}(,\{"field":"[^"]*","message":"[^"]+"\})*\],"requestId":"[0-9a-f]{32}"\}$',
 $::OKRE]



=== TEST 22: a body shorter than its Content-Length: the connection is closed (or 408) after client_body_timeout, nothing stored; one that arrives in slow pieces, each within the timeout, is served
--- more_headers eval
["$::H\nContent-Length: 100", "$::H\nContent-Length: 28"]
--- request eval
[main::post('{"persons":[{"id":"p-short"}]}'),
 [map { { value => $_, delay_before => 0.3 } }
      "POST $::URI\n{\"pers", 'ons":[{"i', 'd":"al', 'ive"}', ']}']]
--- error_code_like eval
['^(?:408)?$', '^200$']
--- response_headers_like eval
[undef, "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
['^(?:|\{"code":"REQUEST_TIMEOUT","message":"[^"]+","requestId":"[0-9a-f]{32}"\})$', $::OKRE]



=== TEST 23: a slow body: half of it, then a wait past client_body_timeout: closed (or 408), nothing stored
--- raw_request eval
["POST /api/lead-lists/list-a/add-prospects HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer user=u-1;org=t070\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"persons\":[{",
 "\"id\":\"p-slow\"}]}"]
--- raw_request_middle_delay: 1.6
--- error_code_like: ^(?:408)?$
--- response_body_like: ^(?:|\{"code":"REQUEST_TIMEOUT","message":"[^"]+","requestId":"[0-9a-f]{32}"\})$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't070';
SELECT count(*) FROM tenant.persons WHERE org_id = 't070';
--- db_expected
0
0



=== TEST 24: (the same nginx) still serves after the slow body
--- same_nginx
--- request eval
[$::OK]
--- error_code eval
[200]
--- response_body_like eval
[$::OKRE]



=== TEST 25: a short body, then the client shuts its side: nothing answered, nothing stored
--- more_headers
Authorization: Bearer user=u-1;org=t070
Content-Type: application/json
Content-Length: 100
--- request eval
main::post('{"persons":[{"id":"p-half"}]}')
--- shutdown
--- error_code_like: ^(?:400)?$
--- response_headers_like eval
[undef]
--- response_body_like: ^(?:|\{"code":"BAD_REQUEST".*)$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't070';
SELECT count(*) FROM tenant.persons WHERE org_id = 't070';
--- db_expected
0
0



=== TEST 26: (the same nginx) still serves after the half-closed connection
--- same_nginx
--- request eval
[$::OK]
--- error_code eval
[200]
--- response_body_like eval
[$::OKRE]



=== TEST 27: a body longer than its Content-Length: the first request is served with its announced bytes; the rest is a pipelined garbage request, refused with 400, and nothing after it runs
--- more_headers eval
["$::H\nConnection: keep-alive\nContent-Length: " . length('{"persons":[{"id":"pipelined"}]}'),
 main::with_len($::H, main::post('{"persons":[{"id":"after-garbage"}]}'))]
--- pipelined_requests eval
[main::post('{"persons":[{"id":"pipelined"}]}{"persons":[{"id":"smuggled"}]}'),
 main::post('{"persons":[{"id":"after-garbage"}]}')]
--- error_code eval
[200, 400]
--- response_headers_like eval
["Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}", undef]
--- response_body_like eval
[$::OKRE, main::html('400 Bad Request')]
--- db_check
SELECT string_agg(person_id, ',') FROM tenant.lead_list_persons WHERE org_id = 't070';
SELECT string_agg(id, ',') FROM tenant.persons WHERE org_id = 't070';
--- db_expected
pipelined
pipelined



=== TEST 28: (the same nginx) still serves after the pipelined garbage
--- same_nginx
--- request eval
[$::OK]
--- error_code eval
[200]
--- response_body_like eval
[$::OKRE]



=== TEST 29: path tricks: an encoded slash or dot-dot in the id (the request leaves the endpoint: nginx's 404), an empty id, 65 characters with an escape, 64 with one (looked up: 404), Unicode raw and encoded, fullwidth letters, an encoded NUL, newline, '?', '#', ';'
--- request eval
[map({ main::post('{"persons":[{"id":"p-path"}]}', "/api/lead-lists/$_/add-prospects") }
     '..%2F..%2Fx', '..%2Flist-a', 'a%2Fb', '%2e%2e', '', 'list-a/add-prospects',
     ('a' x 64) . '%41', ('a' x 63) . '%41',
     "l\xc3\xafst", 'l%C3%AFst', '%EF%BD%8C%EF%BD%89%EF%BD%93%EF%BD%94', 'list-a%00',
     'list-a%0a', 'list-a%3F', 'list-a%23', 'list-a;x'),
 $::OK]
--- error_code eval
[404, 404, 404, 404, 404, 404, 400, 404, 400, 400, 400, 400, 400, 400, 400, 400, 200]
--- response_headers_like eval
[(undef) x 6,
 ("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2,
 ("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3,
 undef,
 ("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 5]
--- response_body_like eval
[(main::html('404 Not Found')) x 6,
 $::BAD_ID, $::NOT_FOUND,
 ($::BAD_ID) x 3, main::html('400 Bad Request'),
 ($::BAD_ID) x 4,
 $::OKRE]



=== TEST 30: method tricks: HEAD and OPTIONS with a valid body, made-up methods: 405 JSON with Allow: POST; TRACE and CONNECT, and a lowercase method, are refused by nginx before it picks a location (its own pages)
--- request eval
[(map { "$_ $::URI\n" . '{"persons":[{"id":"p-method"}]}' } 'HEAD', 'OPTIONS', 'FOO', 'PROPFIND', 'POSTX', 'TRACE', 'CONNECT'),
 "post $::URI\n" . '{"persons":[{"id":"p-method"}]}',
 $::OK]
--- error_code eval
[(405) x 7, 400, 200]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}\nAllow: POST") x 5,
 undef, undef, undef,
 "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
['^$', ($::NOT_ALLOWED) x 4, main::html('405 Not Allowed'), main::html('405 Not Allowed'), main::html('400 Bad Request'), $::OKRE]
