/* libFuzzer target: the holepuncher's state machine under arbitrary
 * datagrams and clock steps (see harness.h for the invariants). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_config cfg;
    rp_output out = fuzz_output(&cfg);
    rp_holepuncher hp;
    fuzz_step step;
    int64_t now = 1000;

    /* Bit 4 of the first step's flags: no amplification checks (mode 0),
     * so that joins are answered without the cookies a fuzzer cannot
     * guess, and the answers' code runs too. */
    if (size > 0 && (data[0] & 0x10) != 0)
        cfg.no_amplification = 0;
    if (rp_holepuncher_init(&hp, &cfg, &out, 1) != RUPHIN_OK)
        return 0;
    while (fuzz_next_step(&data, &size, &step)) {
        rp_frame f;
        now += step.advance;
        if (step.is_tick) {
            rp_holepuncher_tick(&hp, now);
            fuzz_check_deadline(rp_holepuncher_deadline(&hp), now);
        } else if (rp_wire_decode(step.datagram, step.len, &f) == RP_WIRE_OK) {
            rp_holepuncher_input(&hp, now, step.from, &f);
        }
        if (hp.sessions.count > (uint32_t)cfg.max_sessions)
            abort();
        fuzz_drain_events();
    }
    rp_holepuncher_free(&hp);
    return 0;
}
