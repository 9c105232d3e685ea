/* Byte-exact vectors for every frame of protocol generation 0, and the
 * decoder's verdict on malformed datagrams. */
#include "check.h"
#include "wire.h"

static uint8_t buf[RP_MAX_FRAME_LEN];

static void test_empty_frames(void)
{
    CHECK_BYTES(buf, rp_wire_encode_empty(buf, sizeof buf, RP_FRAME_LOCAL_INTERRUPT), "\x00\x04\x00\x01");
    CHECK_BYTES(buf, rp_wire_encode_empty(buf, sizeof buf, RP_FRAME_HELLO_REQ), "\x00\x04\x00\x08");
    CHECK_BYTES(buf, rp_wire_encode_empty(buf, sizeof buf, RP_FRAME_HELLO_RESP), "\x00\x04\x00\x09");
    CHECK_EQ(rp_wire_encode_empty(buf, sizeof buf, RP_FRAME_DATA), 0);
    CHECK_EQ(rp_wire_encode_empty(buf, 3, RP_FRAME_HELLO_REQ), 0);
}

static void test_session_frames(void)
{
    const uint8_t *id = (const uint8_t *)"abc";
    CHECK_BYTES(buf, rp_wire_encode_session(buf, sizeof buf, RP_FRAME_REGISTER, id, 3), "\x00\x07\x00\x02" "abc");
    CHECK_BYTES(buf, rp_wire_encode_session(buf, sizeof buf, RP_FRAME_JOIN, id, 3), "\x00\x07\x00\x03" "abc");
    CHECK_BYTES(buf, rp_wire_encode_session(buf, sizeof buf, RP_FRAME_REGISTER_ACK, id, 3), "\x00\x07\x00\x06" "abc");
    CHECK_BYTES(buf, rp_wire_encode_session(buf, sizeof buf, RP_FRAME_SESSION_NOT_FOUND, id, 3), "\x00\x07\x00\x07" "abc");
    CHECK_BYTES(buf, rp_wire_encode_session(buf, sizeof buf, RP_FRAME_REGISTER, NULL, 0), "\x00\x04\x00\x02");
    CHECK_EQ(rp_wire_encode_session(buf, sizeof buf, RP_FRAME_REGISTER, buf, 21), 0);
    CHECK_EQ(rp_wire_encode_session(buf, sizeof buf, RP_FRAME_HELLO_REQ, id, 3), 0);
}

static void test_peer_info(void)
{
    ruphin_addr v4 = {4, 0, 0x1f90, 0, {192, 0, 2, 7}};
    ruphin_addr v6 = {6, 0, 443, 0, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    rp_frame f;
    size_t n = rp_wire_encode_peer_info(buf, sizeof buf, &v4);
    CHECK_BYTES(buf, n, "\x00\x0b\x00\x04\x04\xc0\x00\x02\x07\x1f\x90");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.type == RP_FRAME_PEER_INFO && f.peer.family == 4 && f.peer.port == 0x1f90 &&
          memcmp(f.peer.ip, v4.ip, 4) == 0);
    n = rp_wire_encode_peer_info(buf, sizeof buf, &v6);
    CHECK_BYTES(buf, n, "\x00\x17\x00\x04\x06\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.peer.family == 6 && f.peer.port == 443 && memcmp(f.peer.ip, v6.ip, 16) == 0);
}

static void test_data(void)
{
    rp_frame f;
    size_t n = rp_wire_encode_data(buf, sizeof buf, (const uint8_t *)"hi", 2);
    CHECK_BYTES(buf, n, "\x00\x06\x00\x05hi");
    CHECK_EQ(rp_wire_decode(buf, n, &f), RP_WIRE_OK);
    CHECK(f.type == RP_FRAME_DATA && f.payload_len == 2 && memcmp(f.payload, "hi", 2) == 0);
    CHECK_EQ(rp_wire_encode_data(buf, sizeof buf, buf, RP_MAX_DATA_LEN), RP_MAX_DATA_LEN + 4);
    CHECK_EQ(rp_wire_encode_data(buf, sizeof buf, buf, RP_MAX_DATA_LEN + 1), 0);
    CHECK_EQ(rp_wire_encode_data(buf, 5, (const uint8_t *)"hi", 2), 0);
}

static rp_wire_status decode(const char *bytes, size_t len)
{
    rp_frame f;
    return rp_wire_decode((const uint8_t *)bytes, len, &f);
}

static void test_malformed(void)
{
    CHECK_EQ(decode("", 0), RP_WIRE_TRUNCATED);
    CHECK_EQ(decode("\x00\x04\x00", 3), RP_WIRE_TRUNCATED);
    CHECK_EQ(decode("\x00\x05\x00\x08", 4), RP_WIRE_BAD_LENGTH);        /* says 5, is 4 */
    CHECK_EQ(decode("\x00\x04\x00\x08x", 5), RP_WIRE_BAD_LENGTH);       /* trailing byte */
    CHECK_EQ(decode("\x00\x04\x00\x00", 4), RP_WIRE_UNKNOWN_TYPE);
    CHECK_EQ(decode("\x00\x04\x00\x10", 4), RP_WIRE_BAD_PAYLOAD);         /* Sealed, empty */
    CHECK_EQ(decode("\x00\x04\xff\xff", 4), RP_WIRE_UNKNOWN_TYPE);
    CHECK_EQ(decode("\x00\x05\x00\x09x", 5), RP_WIRE_BAD_PAYLOAD);      /* HelloResp with payload */
    CHECK_EQ(decode("\x00\x19\x00\x02" "123456789012345678901", 25), RP_WIRE_BAD_PAYLOAD); /* id of 21 */
    CHECK_EQ(decode("\x00\x18\x00\x02" "12345678901234567890", 24), RP_WIRE_OK);           /* id of 20 */
    CHECK_EQ(decode("\x00\x0b\x00\x04\x06\x01\x02\x03\x04\x00\x50", 11), RP_WIRE_BAD_PAYLOAD); /* v6 tag, v4 size */
    CHECK_EQ(decode("\x00\x0a\x00\x04\x04\x01\x02\x03\x04\x00", 10), RP_WIRE_BAD_PAYLOAD);
    CHECK_EQ(decode("\x00\x04\x00\x05", 4), RP_WIRE_OK);                /* empty Data */
}

int main(void)
{
    RUN(test_empty_frames);
    RUN(test_session_frames);
    RUN(test_peer_info);
    RUN(test_data);
    RUN(test_malformed);
    return check_report();
}
