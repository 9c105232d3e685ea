/* Session keys in files: `ruphin keygen FILE` writes one, --key-file reads
 * it. A key file is the key's 32 bytes as 64 hexadecimal digits and a line
 * end: text, so that it can be copied by hand to the other side. */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char keygen_help[] =
    "usage: ruphin keygen FILE\n"
    "\n"
    "Writes a new random session key to FILE (64 hex digits), readable by its\n"
    "owner only; FILE must not exist yet. With - it is printed instead. Give the\n"
    "same file to the server and its clients with --key-file: their datagrams are\n"
    "then encrypted and authenticated end to end (docs/SECURITY.md).\n"
    "\n"
    "  -h, --help                   this help\n";

enum { KEY_HEX = 2 * RUPHIN_KEY_LEN };

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 hex digits, then only white space: the key; else false. */
static bool parse_key(const char *text, size_t len, uint8_t key[RUPHIN_KEY_LEN])
{
    size_t i;
    if (len < KEY_HEX)
        return false;
    for (i = 0; i < RUPHIN_KEY_LEN; i++) {
        int hi = hex_value((unsigned char)text[2 * i]), lo = hex_value((unsigned char)text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    for (i = KEY_HEX; i < len; i++)
        if (!isspace((unsigned char)text[i]))
            return false;
    return true;
}

bool cli_key_read(const char *path, uint8_t key[RUPHIN_KEY_LEN])
{
    char text[KEY_HEX + 16];
    size_t len;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ruphin: --key-file %s: %s\n", path, strerror(errno));
        return false;
    }
    len = fread(text, 1, sizeof text, f); /* more than a key and a line end: not a key */
    fclose(f);
    if (!parse_key(text, len, key)) {
        fprintf(stderr, "ruphin: --key-file %s: not a key (64 hex digits, as ruphin keygen "
                        "writes)\n", path);
        memset(text, 0, sizeof text);
        return false;
    }
    memset(text, 0, sizeof text);
    return true;
}

/* Writes the key as a line of hex digits; false when the write failed. */
static bool write_key(FILE *out, const uint8_t key[RUPHIN_KEY_LEN])
{
    size_t i;
    for (i = 0; i < RUPHIN_KEY_LEN; i++)
        fprintf(out, "%02x", key[i]);
    fputc('\n', out);
    return fflush(out) == 0 && !ferror(out);
}

int cmd_keygen(int argc, char **argv)
{
    uint8_t key[RUPHIN_KEY_LEN];
    int32_t rc;
    FILE *out;
    bool written;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(keygen_help, stdout);
        return EXIT_OK;
    }
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0')) {
        fputs(keygen_help, stderr);
        return EXIT_USAGE;
    }
    if ((rc = ruphin_key_generate(key, sizeof key)) != RUPHIN_OK) {
        fprintf(stderr, "ruphin keygen: %s\n",
                rc == RUPHIN_ERR_NOT_SUPPORTED ? "this build has no sealed sessions (libsodium)"
                                               : ruphin_strerror(rc));
        return EXIT_RUNTIME;
    }
    out = strcmp(argv[1], "-") == 0 ? stdout : cli_create_private(argv[1]);
    if (out == NULL) {
        fprintf(stderr, "ruphin keygen: %s: %s\n", argv[1],
                errno == EEXIST ? "exists already (a key is never replaced)" : strerror(errno));
        memset(key, 0, sizeof key);
        return EXIT_RUNTIME;
    }
    written = write_key(out, key);
    memset(key, 0, sizeof key);
    if (out != stdout && fclose(out) != 0)
        written = false;
    if (!written) {
        fprintf(stderr, "ruphin keygen: %s: the key could not be written\n", argv[1]);
        if (out != stdout)
            remove(argv[1]); /* no half key left behind */
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
