package Test::Nginx::LocalDriver::Valgrind;

# Parser for valgrind (memcheck) log files, used by the local
# Test::Nginx::Socket driver in valgrind mode (TEST_NGINX_USE_VALGRIND).
# This is a project extension: the real Test::Nginx does not parse
# valgrind output at all.
#
#   my $r = Test::Nginx::LocalDriver::Valgrind::scan_file($path,
#               leak_match => 'leadlist');
#   $r->{complete}        true if an "ERROR SUMMARY" line was seen
#   $r->{errors}          sum of the "ERROR SUMMARY: N errors" counts
#   $r->{error_records}   [ text, ... ]  memcheck error reports (not leaks)
#   $r->{leak_records}    [ text, ... ]  all "definitely lost" records
#   $r->{matching_leaks}  [ text, ... ]  "definitely lost" records whose
#                                        text contains leak_match
#   $r->{new_error_records} [ text, ... ]  the error records after the
#                         first seen_errors ones
#   $r->{failures}        [ [ short reason, [records...] ], ... ]
#                         what the driver turns into failing tests
#
# Options: leak_match (default 'leadlist'; '' never fails on leaks) and
# seen_errors (default 0): the number of error records of this log that
# were already reported. The driver checks the log of a running nginx after
# every block and passes the count it has reported so far, so that only
# errors that are new since the previous check fail the current block. The
# log is scanned from its start each time: a record that valgrind is still
# writing has no stack line yet and is not counted until it is complete, so
# nothing is lost or counted twice. An "ERROR SUMMARY" count (written at
# exit only) fails on its own only if no error record was ever seen.

use strict;
use warnings;

sub scan_file {
    my ($file, %opt) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    return scan_text($text, %opt);
}

sub _num {
    my $n = shift;
    $n =~ s/,//g;
    return $n + 0;
}

sub scan_text {
    my ($text, %opt) = @_;
    my $match = defined $opt{leak_match} ? $opt{leak_match} : 'leadlist';
    my $seen  = $opt{seen_errors} || 0;

    my %r = (
        complete       => 0,
        errors         => 0,
        error_records  => [],
        new_error_records => [],
        leak_records   => [],
        matching_leaks => [],
        failures       => [],
    );

    # Split into records. A record starts with an unindented message line
    # ("==PID== Invalid read of size 4") and goes on with the indented
    # lines below it ("==PID==    at 0x...", "==PID==  Address ...") up to
    # the next "==PID== " line with nothing after the prefix. Suppression
    # blocks ("{ ... }", printed without prefix because of
    # --gen-suppressions=all) are appended to the record they follow.
    my @records;
    my $cur;           # record being read
    my $last;          # last record seen (suppressions are appended to it)
    my $in_supp = 0;
    for my $line (split /\n/, $text) {
        if ($in_supp) {
            $last->{text} .= "$line\n" if $last;
            $in_supp = 0 if $line =~ /^\}\s*$/;
            next;
        }
        if ($line =~ /^\{\s*$/) {
            $in_supp = 1;
            $last->{text} .= "$line\n" if $last;
            next;
        }
        my ($body) = $line =~ /^==\d+==\s?(.*)$/ or next;
        if ($body =~ /^\s*$/) {
            $cur = undef;
            next;
        }
        if ($body =~ /^ERROR SUMMARY:\s+([\d,]+)\s+errors?/) {
            $r{complete} = 1;
            $r{errors} += _num($1);
            $cur = $last = undef;
            next;
        }
        if ($body =~ /^\S/) {
            $cur = $last = { head => $body, text => "$line\n", stack => 0 };
            push @records, $cur;
            next;
        }
        next unless $cur;
        $cur->{text} .= "$line\n";
        $cur->{stack} = 1 if $body =~ /^\s+(?:at|by) 0x/;
    }

    for my $rec (@records) {
        my $head = $rec->{head};
        if ($head =~ /^[\d,]+ (?:\([^)]*\) )?bytes in [\d,]+ blocks are definitely lost/) {
            push @{ $r{leak_records} }, $rec->{text};
            if (length $match && index(lc $rec->{text}, lc $match) >= 0) {
                push @{ $r{matching_leaks} }, $rec->{text};
            }
            next;
        }
        next if $head =~ /^[\d,]+ (?:\([^)]*\) )?bytes in [\d,]+ blocks are /;  # other leak kinds
        next unless $rec->{stack};
        next if $head =~ /^(?:Warning:|HEAP SUMMARY|LEAK SUMMARY)/;
        push @{ $r{error_records} }, $rec->{text};
    }

    my @recs = @{ $r{error_records} };
    $r{new_error_records} = [ @recs[ $seen .. $#recs ] ] if $seen < @recs;
    if (@{ $r{new_error_records} } || ($r{errors} > 0 && !$seen && !@recs)) {
        # one record per error context; the summary also counts repeats
        my $n = @{ $r{new_error_records} };
        $n = $r{errors} if !$seen && $r{errors} > $n;
        push @{ $r{failures} },
            [ "valgrind reported $n memcheck error(s)", $r{new_error_records} ];
    }
    if (@{ $r{matching_leaks} }) {
        push @{ $r{failures} },
            [ "valgrind found " . scalar(@{ $r{matching_leaks} })
              . " definitely lost block(s) with '$match' in the stack",
              $r{matching_leaks} ];
    }
    return \%r;
}

1;
