# A holepuncher, a server and a client on loopback, from Tcl through the
# SWIG-generated binding: the client sends a datagram, the server echoes it.
# The holepuncher runs in active mode (a runner's thread drives it).
# Usage: tclsh loopback.tcl path/to/ruphin.so
load [lindex $argv 0] Ruphin

proc check {rc what} {
    if {$rc < 0} { error "$what: [ruphin_strerror $rc]" }
}

proc new_node {kind args} {
    set out [new_nodep]
    check [ruphin_${kind}_new $out {*}$args] $kind
    set node [nodep_value $out]
    delete_nodep $out
    return $node
}

set hp [new_node holepuncher "127.0.0.1:0" NULL]
set addr [new_ruphin_addr]
check [ruphin_local_addr $hp $addr] local_addr
set hp_text [ruphin_addr_text $addr]
set out [new_runnerp]
check [ruphin_runner_start $out $hp] runner_start
set run [runnerp_value $out]
delete_runnerp $out
set server [new_node server $hp_text "tcl" "127.0.0.1:0" NULL]
set client ""
set event [new_ruphin_event]
set echoed ""

set deadline [expr {[clock milliseconds] + 5000}]
while {$echoed eq "" && [clock milliseconds] < $deadline} {
    foreach who {server client} {
        set node [set $who]
        if {$node eq ""} continue
        while {[ruphin_poll $node 0 $event] == 1} {
            set type [ruphin_event_name [ruphin_event_type_get $event]]
            puts "$who $type"
            if {$who eq "server" && $type eq "REGISTERED" && $client eq ""} {
                set client [new_node client $hp_text "tcl" "127.0.0.1:0" NULL]
            }
            if {$who eq "client" && $type eq "CONNECTED"} {
                check [ruphin_send $client NULL "hello from tcl"] send
            }
            if {$who eq "server" && $type eq "DATA"} {
                check [ruphin_send $server [ruphin_event_peer_get $event] \
                           [ruphin_event_payload $event]] echo
            }
            if {$who eq "client" && $type eq "DATA"} {
                set echoed [ruphin_event_payload $event]
            }
        }
    }
    after 1
}

# The batch calls: three datagrams in one send, taken with one poll.
set lens [new_size_array 3]
foreach i {0 1 2} n {3 3 5} { size_array_setitem $lens $i $n }
set sent [new_sizep]
check [ruphin_send_batch_string $client NULL "onetwothree" $lens 3 $sent] send_batch
set events [new_event_array $::RUPHIN_POLL_BATCH_MAX]
set got {}
set deadline [expr {[clock milliseconds] + 5000}]
while {[llength $got] < 3 && [clock milliseconds] < $deadline} {
    set n [ruphin_poll_batch $server 10 $events $::RUPHIN_POLL_BATCH_MAX]
    check $n poll_batch
    for {set i 0} {$i < $n} {incr i} {
        set ev [event_array_getitem $events $i]
        if {[ruphin_event_type_get $ev] == $::RUPHIN_EVENT_DATA} {
            lappend got [ruphin_event_payload $ev]
        }
    }
}
puts "batch: [sizep_value $sent] sent, got $got"
delete_size_array $lens
delete_sizep $sent
delete_event_array $events
ruphin_runner_stop $run
set hp_events {}
while {[ruphin_runner_next $run 0 $event] == 1} {
    lappend hp_events [ruphin_event_name [ruphin_event_type_get $event]]
}
ruphin_runner_free $run
foreach node [list $client $server $hp] { ruphin_close $node }
if {$echoed ne "hello from tcl"} { puts "no echo"; exit 1 }
puts "echo: $echoed"
puts "holepuncher runner: $hp_events"
