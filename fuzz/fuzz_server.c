/* libFuzzer target: the server peer's state machine under arbitrary
 * datagrams and clock steps (see harness.h for the invariants). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_config cfg;
    rp_output out = fuzz_output(&cfg);
    rp_server s;
    fuzz_step step;
    int64_t now = 1000;
    uint32_t i;

    if (rp_server_init(&s, &cfg, &out, &fuzz_sources[0], (const uint8_t *)"id", 2) != RUPHIN_OK)
        return 0;
    rp_server_start(&s, now);
    while (fuzz_next_step(&data, &size, &step)) {
        rp_frame f;
        now += step.advance;
        if (step.app_send) {
            static uint8_t buf[2 * RP_HEADER_LEN + 8 + RP_SEAL_OVERHEAD + 256];
            if (rp_server_can_send(&s, step.from) == RUPHIN_OK)
                rp_server_send_data(&s, step.from, step.datagram, step.len, buf, sizeof buf);
        } else if (step.is_tick) {
            rp_server_tick(&s, now);
            fuzz_check_deadline(rp_server_deadline(&s), now);
        } else if (rp_wire_decode(step.datagram, step.len, &f) == RP_WIRE_OK) {
            rp_server_input(&s, now, step.from, &f);
        }
        if (s.peers.count > (uint32_t)cfg.max_peers)
            abort();
        for (i = 0; i < s.peers.count; i++) /* only connected clients lose paths */
            if (s.peers.items[i].lost && s.peers.items[i].state != RP_PEER_CONNECTED)
                abort();
        fuzz_drain_events();
    }
    rp_server_stop(&s);
    rp_server_free(&s);
    return 0;
}
