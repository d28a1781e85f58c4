# Unit tests of the local Test::Nginx::Socket driver's internals: request
# building, response parsing (incl. broken chunked bodies, which plain
# nginx cannot produce on purpose) and the valgrind log scanner.
# Uses the local driver directly; no nginx is started.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/../lib";
use Test::More;

BEGIN { require Test::Nginx::LocalDriver }
use Test::Nginx::LocalDriver::Valgrind ();

my $P = \&Test::Nginx::Socket::_parse_response;
my $B = \&Test::Nginx::Socket::_build_request;
my $H = \&Test::Nginx::Socket::_parse_more_headers;

# ---- request building ---------------------------------------------------

{
    my ($req, $m) = $B->('n', "GET /t\n", [], 'close');
    is($req, "GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
       'request: defaults');
    is($m, 'GET', 'request: method');
}
{
    my ($req) = $B->('n', "  # comment\n\nDELETE\n", [], 'close');
    like($req, qr{^DELETE / HTTP/1\.1\r\n}, 'request: comments skipped, URI defaults to /');
}
{
    my ($req) = $B->('n', "POST /x\n  {\"a\":1}  \n\n", [], 'close');
    is($req, "POST /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Content-Length: 7\r\n\r\n{\"a\":1}",
       'request: body trimmed, Content-Length computed');
}
{
    my ($req) = $B->('n', "POST /x\nabc\n",
                     $H->("Content-Length: 2\nX-A: b"), 'keep-alive');
    is($req, "POST /x HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n"
             . "Content-Length: 2\r\nX-A: b\r\n\r\nabc\n",
       'request: explicit Content-Length, body sent as is');
}
{
    my ($req) = $B->('n', "POST /x\nabc\n",
                     $H->("content-length: 2"), 'close');
    like($req, qr/\r\nContent-Length: 3\r\n/,
         'request: the Content-Length check is case-sensitive');
}
{
    my ($req) = $B->('n', "POST /x\n3\r\nabc\r\n0\r\n\r\n",
                     $H->("Transfer-Encoding: chunked"), 'close');
    unlike($req, qr/Content-Length/i, 'request: no Content-Length when chunked');
    like($req, qr/\r\n\r\n3\r\nabc\r\n0\r\n\r\n\z/, 'request: chunked body as is');
}
{
    my ($req) = $B->('n', "GET /t HTTP/1.0\n",
                     $H->("Host: foo\nConnection: keep-alive"), 'close');
    is($req, "GET /t HTTP/1.0\r\nHost: foo\r\nConnection: keep-alive\r\n\r\n",
       'request: Host and Connection from more_headers win');
}
is_deeply($H->("# c\n\nX-A:1\nX-B:   two words\nX-C\n"),
          ['X-A: 1', 'X-B: two words', 'X-C: '], 'more_headers parsing');

# ---- response parsing -----------------------------------------------------

{
    my $r = $P->("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n"
                 . "\r\nhelloHTTP/1.1 ...");
    is($r->{status}, 200, 'response: status');
    is($r->{body}, 'hello', 'response: Content-Length framing');
    is($r->{leftover}, 'HTTP/1.1 ...', 'response: leftover bytes');
    is($r->{headers}{'x-a'}, '1, 2', 'response: repeated headers joined');
    is($r->{raw_headers}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n"
                          . "x-a: 2\r\n", 'response: raw headers');
    is_deeply($r->{errors}, [], 'response: no errors');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 . "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n");
    is($r->{body}, 'abc0123456789', 'chunked: decoded (extensions, trailers)');
    is_deeply($r->{errors}, [], 'chunked: no errors');
    is($r->{leftover}, '', 'chunked: nothing left over');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 . "3\r\nabc\r\n");
    is($r->{body}, 'abc', 'chunked truncated: body so far');
    like($r->{errors}[0] // '', qr/^no last chunk found - /,
         'chunked truncated: no last chunk found');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 . "zz\r\nabc\r\n0\r\n\r\n");
    like($r->{errors}[0] // '', qr/^invalid chunked body received: zz/,
         'chunked: bad size line');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 . "5\r\nab");
    like($r->{errors}[0] // '',
         qr/^invalid chunked data received \(not enought octets/,
         'chunked: short chunk');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 . "3\r\nabcX\r\n0\r\n\r\n");
    is($r->{errors}[0] // '', 'invalid chunked data received (expected CRLF).',
       'chunked: missing CRLF after data');
}
{
    my $r = $P->("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method => 'HEAD');
    is($r->{body}, '', 'HEAD: no body');
    $r = $P->("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
    is($r->{body}, '', '304: no body');
    $r = $P->("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
    ok($r->{truncated}, 'Content-Length: truncated body noticed');
    $r = $P->("HTTP/1.1 200 OK\r\n\r\nuntil eof");
    is($r->{body}, 'until eof', 'no framing: body to EOF');
    $r = $P->("garbage\r\n\r\n");
    ok(!defined $r->{status}, 'bad status line: undefined status');
    $r = $P->('');
    ok($r->{empty} && !defined $r->{status}, 'empty response');
}

# ---- small helpers -----------------------------------------------------------

is(Test::Nginx::Socket::_parse_time('1.5'), 1.5, 'time: seconds');
is(Test::Nginx::Socket::_parse_time('300ms'), 0.3, 'time: ms');
is(Test::Nginx::Socket::_parse_time('2s'), 2, 'time: s');
is_deeply([Test::Nginx::Socket::_pattern_list("a\n\nb c\n")], ['a', 'b c'],
          'log patterns: one per non-empty line');
{
    local $ENV{TEST_NGINX_UNIT_X} = 'val';
    is(Test::Nginx::Socket::_expand_env('n', 'a $TEST_NGINX_UNIT_X b'),
       'a val b', '$TEST_NGINX_* expansion');
}

# ---- valgrind log scanner ------------------------------------------------

my $head = <<'_EOV_';
==42== Memcheck, a memory error detector
==42== Command: /usr/sbin/nginx -p /x/
==42== 
_EOV_
my $tail = <<'_EOV_';
==42== 
==42== HEAP SUMMARY:
==42==     in use at exit: 0 bytes in 0 blocks
==42== 
_EOV_
my $clean_summary = "==42== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)\n";

sub scan {
    my ($text, %o) = @_;
    return Test::Nginx::LocalDriver::Valgrind::scan_text($text, %o);
}

{
    my $r = scan($head . $tail . $clean_summary);
    ok($r->{complete}, 'valgrind: complete log');
    is_deeply($r->{failures}, [], 'valgrind: clean log, no failures');
}
{
    my $r = scan($head . <<'_EOV_' . $tail . "==42== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n");
==42== Invalid read of size 4
==42==    at 0x1234: ngx_http_leadlist_handler (ngx_http_leadlist_module.c:10)
==42==    by 0x5678: ngx_http_core_content_phase (in /usr/sbin/nginx)
==42==  Address 0x0 is not stack'd, malloc'd or (recently) free'd
==42== 
{
   <insert_a_suppression_name_here>
   Memcheck:Addr4
   fun:ngx_http_leadlist_handler
}
_EOV_
    is($r->{errors}, 1, 'valgrind: Invalid read counted');
    is(scalar @{ $r->{failures} }, 1, 'valgrind: Invalid read fails');
    like($r->{failures}[0][1][0] // '', qr/Invalid read of size 4.*Memcheck:Addr4/s,
         'valgrind: the record (with its suppression) is reported');
}
{
    my $r = scan($head . <<'_EOV_' . $tail . $clean_summary);
==42== Conditional jump or move depends on uninitialised value(s)
==42==    at 0x1234: foo (foo.c:1)
==42== 
_EOV_
    is(scalar @{ $r->{failures} }, 1,
       'valgrind: an error record fails even if the summary says 0');
}
my $leak = <<'_EOV_';
==42== 27,648 (15,360 direct, 12,288 indirect) bytes in 1 blocks are definitely lost in loss record 9 of 9
==42==    at 0x48417B4: malloc (vg_replace_malloc.c:381)
==42==    by 0x154CFE: ngx_alloc (in /usr/sbin/nginx)
==42==    by 0x7000: ngx_http_leadlist_init (ngx_http_leadlist_module.c:99)
==42== 
==42== 24 bytes in 1 blocks are definitely lost in loss record 1 of 9
==42==    at 0x48417B4: malloc (vg_replace_malloc.c:381)
==42==    by 0x12E404: ngx_set_environment (in /usr/sbin/nginx)
==42== 
==42== 100 bytes in 1 blocks are possibly lost in loss record 2 of 9
==42==    at 0x48417B4: malloc (vg_replace_malloc.c:381)
==42==    by 0x7000: ngx_http_leadlist_other (ngx_http_leadlist_module.c:9)
==42== 
_EOV_
{
    my $r = scan($head . $tail . $leak . $clean_summary);
    is(scalar @{ $r->{leak_records} }, 2, 'valgrind: two definitely lost records');
    is(scalar @{ $r->{matching_leaks} }, 1, 'valgrind: one mentions leadlist');
    is(scalar @{ $r->{failures} }, 1, 'valgrind: a leadlist leak fails');
    like($r->{failures}[0][0], qr/definitely lost.*'leadlist'/,
         'valgrind: leak failure reason');
}
{
    my $r = scan($head . $tail . $leak . $clean_summary, leak_match => 'no_such_function');
    is_deeply($r->{failures}, [], 'valgrind: leaks elsewhere do not fail');
}
{
    my $r = scan($head . $tail . $leak);
    ok(!$r->{complete}, 'valgrind: a log without ERROR SUMMARY is incomplete');
}

# Incremental checks of the log of a running nginx (seen_errors): only the
# error records after the ones already reported count.
my $err1 = <<'_EOV_';
==42== Invalid read of size 4
==42==    at 0x1234: first (a.c:1)
==42==  Address 0x0 is not stack'd, malloc'd or (recently) free'd
==42== 
_EOV_
my $err2 = <<'_EOV_';
==42== Invalid write of size 8
==42==    at 0x5678: second (b.c:2)
==42==  Address 0x8 is not stack'd, malloc'd or (recently) free'd
==42== 
_EOV_
{
    my $r = scan($head . $err1, seen_errors => 0);
    ok(!$r->{complete}, 'valgrind (running): no summary yet');
    is(scalar @{ $r->{failures} }, 1, 'valgrind (running): a new error fails');
    like($r->{failures}[0][0], qr/^valgrind reported 1 memcheck error\(s\)$/,
         'valgrind (running): reason');
}
{
    my $r = scan($head . $err1, seen_errors => 1);
    is_deeply($r->{failures}, [], 'valgrind (running): an error already reported does not fail again');
    is(scalar @{ $r->{error_records} }, 1, 'valgrind (running): it is still counted');
}
{
    my $r = scan($head . $err1 . $err2, seen_errors => 1);
    is(scalar @{ $r->{failures} }, 1, 'valgrind (running): the error after it fails');
    is(scalar @{ $r->{failures}[0][1] }, 1, 'valgrind (running): with only the new record');
    like($r->{failures}[0][1][0], qr/Invalid write.*second/s,
         'valgrind (running): the new record is the second one');
}
{
    # valgrind is still writing the record: no stack line yet
    my $r = scan($head . $err1 . "==42== Invalid write of size 8\n", seen_errors => 1);
    is_deeply($r->{failures}, [], 'valgrind (running): a record without its stack yet is not counted');
    is(scalar @{ $r->{error_records} }, 1, 'valgrind (running): ... so it is found whole next time');
}
{
    # at exit: the summary counts the error reported earlier; no new failure
    my $r = scan($head . $err1 . $tail . $leak
                 . "==42== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n",
                 seen_errors => 1, leak_match => 'no_such_function');
    is_deeply($r->{failures}, [], 'valgrind (exit): the summary of errors reported earlier does not fail again');
}
{
    my $r = scan($head . $tail
                 . "==42== ERROR SUMMARY: 3 errors from 1 contexts (suppressed: 0 from 0)\n");
    is(scalar @{ $r->{failures} }, 1, 'valgrind (exit): a summary count without records fails');
    like($r->{failures}[0][0], qr/^valgrind reported 3 memcheck error/,
         'valgrind (exit): with the summary count');
}
{
    my $r = scan($head . $err1 . $tail . $leak
                 . "==42== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)\n",
                 seen_errors => 1);
    is(scalar @{ $r->{failures} }, 1, 'valgrind (exit): leaks still fail after errors were reported');
    like($r->{failures}[0][0], qr/definitely lost/, 'valgrind (exit): the leak failure');
}

done_testing();
