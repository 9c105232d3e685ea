/* libFuzzer target: the client peer's state machine under arbitrary
 * datagrams and clock steps (see harness.h for the invariants). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_config cfg;
    rp_output out = fuzz_output(&cfg);
    rp_client c;
    fuzz_step step;
    int64_t now = 1000;

    rp_client_init(&c, &cfg, &out, &fuzz_sources[0], (const uint8_t *)"id", 2);
    rp_client_start(&c, now);
    while (fuzz_next_step(&data, &size, &step)) {
        rp_frame f;
        now += step.advance;
        if (step.app_send) {
            static uint8_t buf[2 * RP_HEADER_LEN + 8 + RP_SEAL_OVERHEAD + 256];
            if (c.state == RUPHIN_STATE_CONNECTED || c.state == RUPHIN_STATE_PUNCHING ||
                c.state == RUPHIN_STATE_RELAYED)
                rp_client_send_data(&c, step.datagram, step.len, buf, sizeof buf);
        } else if (step.is_tick) {
            rp_client_tick(&c, now);
            fuzz_check_deadline(rp_client_deadline(&c), now);
        } else if (rp_wire_decode(step.datagram, step.len, &f) == RP_WIRE_OK) {
            rp_client_input(&c, now, step.from, &f);
        }
        if (c.state == RUPHIN_STATE_CONNECTED && c.server.family == 0)
            abort();
        if (c.recovering && c.state != RUPHIN_STATE_PUNCHING) /* recovering is punching again */
            abort();
        fuzz_drain_events();
    }
    rp_client_stop(&c);
    return 0;
}
