package PgProxy;

# A TCP proxy between nginx and PostgreSQL that can lose a connection just
# after PostgreSQL committed, deterministically (t/047-idempotency-faults.t).
#
# It forwards both ways, one child process per connection, and reads the
# server's message stream (a type byte and an int32 length that counts
# itself, after the one-byte answer to an SSLRequest or GSSENCRequest).
# Once armed (arm()), the first connection that sees a DataRow ('D')
# withholds it and everything after it until the ReadyForQuery ('Z') that
# follows, by when the statement's implicit transaction has committed, and
# then closes both sides: the client has sent its statement, PostgreSQL has
# done and committed it, and the client gets no result, only a dead
# connection.  Armed with arm('sync'), it forwards the DataRow and the
# CommandComplete, and withholds only the ReadyForQuery: the client has
# the statement's result, not the word that its transaction committed.
# Armed with arm('batch'), it withholds everything from the DataRow on
# until two ReadyForQuery have come (a statement and the one pipelined
# behind it, both committed), says so (held()), and waits for release()
# to send it all at once and close: a client stopped meanwhile reads the
# two answers and the EOF together.  After 5 s it sends what it has.
# fired_lines() says how many ReadyForQuery each cut carried.
# The arming is used up by that one connection.
#
#   my $p = PgProxy->start(host => '127.0.0.1', target_port => 5432);
#   $p->{port}          where nginx connects instead
#   $p->arm;  ...;  $p->fired   how many connections were cut so far
#   $p->stop            (also in END)
#
# Started with shape => 'trickle', it forwards the server's bytes in
# pieces of 1 to 7 bytes, each written on its own, so that every message
# comes apart at every place; with shape => 'burst', it gathers them for
# 5 ms at a time, so that the answers of several pipelined statements
# come in one read; with shape => 'slowread', it takes the client's bytes
# 64 kB a millisecond through a 64 kB receive buffer, so that a
# statement of several MB does not fit in the client's socket at once.  Arming still
# works on top (t/056-pool-shapes.t).
#
# A TLS connection cannot be read: the proxy then forwards it as it is and
# never cuts it.  Give nginx sslmode=disable.

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket ();
use Time::HiRes qw(time);

my @proxies;
my $parent = $$;

# the request codes whose answer is a single byte, not a message
my %ONE_BYTE_ANSWER = (80877103 => 'SSLRequest', 80877104 => 'GSSENCRequest');


sub start {
    my ($class, %o) = @_;

    my $l = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "PgProxy: listen: $!";
    # accepted sockets inherit it: the window nginx may fill stays small
    setsockopt($l, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 65536)
        if ($o{shape} // '') eq 'slowread';
    my $dir = tempdir('leadlist-pgproxy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { port => $l->sockport, dir => $dir,
                       shape => $o{shape} // '',
                       host => $o{host} // '127.0.0.1',
                       target_port => $o{target_port} }, $class;

    my $pid = fork;
    die "PgProxy: fork: $!" unless defined $pid;

    if ($pid == 0) {
        # its own process group: stop() ends the connections' children too
        POSIX::setpgid(0, 0);
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $c = $l->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                close $l;
                $self->_serve($c);
                POSIX::_exit(0);
            }
            close $c;
        }
    }

    close $l;
    $self->{pid} = $pid;
    push @proxies, $self;

    return $self;
}


sub arm {
    my ($self, $mode) = @_;
    open my $fh, '>', "$self->{dir}/armed" or die "PgProxy: arm: $!";
    print $fh $mode // 'row';
    close $fh;
}


sub armed { return -e "$_[0]{dir}/armed" }


sub fired {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/fired" or return 0;
    my @l = <$fh>;
    return scalar @l;
}


sub held { return -e "$_[0]{dir}/held" }


sub release {
    my ($self) = @_;
    open my $fh, '>', "$self->{dir}/go" or die "PgProxy: release: $!";
    close $fh;
}


sub fired_lines {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/fired" or return [];
    my @l = <$fh>;
    chomp @l;
    return \@l;
}


sub stop {
    my ($self) = @_;
    return if $self->{stopped};
    kill 'TERM', -$self->{pid};
    waitpid $self->{pid}, 0;
    $self->{stopped} = 1;
}


# Writes $data in pieces of 1 to 7 bytes, each on its own.
sub _trickle {
    my ($h, $data) = @_;
    while (length $data) {
        _write_all($h, substr($data, 0, 1 + int(rand 7), '')) or return 0;
    }
    return 1;
}


sub _write_all {
    my ($h, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($h, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}


# One connection: returns when either side closes, or after a cut; the
# caller's exit closes both sockets.
sub _serve {
    my ($self, $c) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => $self->{host},
                                  PeerPort => $self->{target_port},
                                  Proto => 'tcp')
        or return;

    my $sel = IO::Select->new($c, $s);
    my $first = 1;          # the client's first message not seen yet
    my $one_byte = 0;       # the server's next answer is a single byte
    my $raw = 0;            # TLS: forward without reading
    my $hold = 0;           # cutting: withhold until ReadyForQuery
    my $sync = 0;           # cutting: forward until ReadyForQuery
    my $batch;              # cutting: since when all is withheld
    my ($held, $zs) = ('', 0);
    my ($pend, $pend_t) = ('', 0);  # burst: gathered since $pend_t
    my $server_gone = 0;    # a write to the server failed
    my $sbuf = '';

    while (1) {
        my $wait = $batch ? 0.05 : undef;
        if (length $pend) {
            $wait = $pend_t + 0.005 - time;
            $wait = 0 if $wait < 0;
        }
        my @ready = $sel->can_read($wait);

        if (length $pend && time >= $pend_t + 0.005) {
            _write_all($c, $pend) or return;
            $pend = '';
        }

        if ($batch && $zs >= 2 && !-e "$self->{dir}/held") {
            open my $fh, '>', "$self->{dir}/held";
            close $fh;
        }

        if ($batch && (($zs >= 2 && unlink "$self->{dir}/go")
                       || time - $batch > 5))
        {
            unlink "$self->{dir}/held";
            _write_all($c, $held);
            open my $fh, '>>', "$self->{dir}/fired";
            print $fh "batch of $zs ReadyForQuery\n";
            close $fh;
            return;
        }

        for my $h (@ready) {
            my $slow = $h == $c && $self->{shape} eq 'slowread';
            my $n = sysread($h, my $buf, 65536);
            Time::HiRes::sleep(0.001) if $slow;
            unless ($n) {
                _write_all($c, $pend) if length $pend;
                return;
            }

            if ($h == $c) {
                if ($first && length $buf >= 8) {
                    my ($len, $code) = unpack 'NN', $buf;
                    $one_byte = 1 if $len == 8 && $ONE_BYTE_ANSWER{$code};
                    $first = 0;
                }
                # a server gone may still have answers on their way to
                # the client, as the kernel would deliver them: the
                # client's bytes are dropped, the server's forwarded
                # until its EOF
                $server_gone ||= !_write_all($s, $buf);
                next;
            }

            if ($raw) {
                _write_all($c, $buf) or return;
                next;
            }

            $sbuf .= $buf;
            my $out = '';

            while (1) {
                if ($one_byte) {
                    last unless length $sbuf;
                    my $answer = substr($sbuf, 0, 1, '');
                    $out .= $answer;
                    $one_byte = 0;
                    # the client may send another request after an 'N'
                    $first = 1;
                    if ($answer ne 'N') {
                        $raw = 1;
                        $out .= $sbuf;
                        $sbuf = '';
                        last;
                    }
                    next;
                }

                last if length $sbuf < 5;
                my ($type, $len) = unpack 'a N', $sbuf;
                last if length $sbuf < 1 + $len;
                my $msg = substr($sbuf, 0, 1 + $len, '');

                if ($batch) {
                    $held .= $msg;
                    $zs++ if $type eq 'Z';
                    next;
                }

                if ($hold) {
                    next unless $type eq 'Z';
                    open my $fh, '>>', "$self->{dir}/fired";
                    print $fh "cut after ReadyForQuery\n";
                    close $fh;
                    return;
                }

                if ($sync && $type eq 'Z') {
                    _write_all($c, $out);
                    open my $fh, '>>', "$self->{dir}/fired";
                    print $fh "cut at ReadyForQuery\n";
                    close $fh;
                    return;
                }

                # unlink: of two connections, only one uses the arming up
                if ($type eq 'D' && !$sync
                    && open(my $fh, '<', "$self->{dir}/armed"))
                {
                    my $mode = <$fh> // 'row';
                    close $fh;
                    if (unlink "$self->{dir}/armed") {
                        if ($mode eq 'sync') {
                            $sync = 1;
                        } elsif ($mode eq 'batch') {
                            $batch = time;
                            $held = $msg;
                            next;
                        } else {
                            $hold = 1;
                            next;
                        }
                    }
                }

                $out .= $msg;
            }

            next unless length $out;

            if ($self->{shape} eq 'trickle') {
                _trickle($c, $out) or return;
            } elsif ($self->{shape} eq 'burst') {
                $pend_t = time unless length $pend;
                $pend .= $out;
            } else {
                _write_all($c, $out) or return;
            }
        }
    }
}


END {
    return unless $$ == $parent;
    my $rc = $?;
    $_->stop for @proxies;
    $? = $rc;
}

1;
