/*
 * Replays fuzz inputs through one fuzz target without libFuzzer and prints a
 * verdict line per input, so that two builds of the same code (Linux, and
 * Windows under Wine: tests/windows/test_fuzz_windows.py) can be compared
 * line by line. The target's file is included, so that its verdict can read
 * the harness's state; the other sources are the fuzzer's:
 *
 *   cc -DRUPHIN_FUZZ_TARGET='"fuzz_server.c"' -Icore/include -Icore/src \
 *      fuzz/replay.c core/src/wire.c ... -o replay_server
 *   ./replay_server fuzz/seeds/server
 *
 * Arguments: input files, or folders whose files are replayed in name order.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include RUPHIN_FUZZ_TARGET

/* What the target computed for the input it just ran. */
static void print_verdict(const char *name, const uint8_t *data, size_t size)
{
#ifdef RUPHIN_FUZZ_HARNESS_H /* a state machine: what it sent and reported */
    int i;
    (void)data;
    (void)size;
    printf("%s: sent %" PRIu64 " events %" PRIu64 " digest %016" PRIx64 " stats", name,
           fuzz_trace.sent, fuzz_trace.events, fuzz_trace.digest);
    for (i = 0; i < RUPHIN_STAT_COUNT; i++)
        printf("%c%" PRId64, i == 0 ? ' ' : ',', fuzz_stats[i]);
    printf("\n");
#else /* the wire target: the decoder's answer (the target threw it away) */
    rp_frame f;
    rp_wire_status rc;
    memset(&f, 0, sizeof f); /* fields the frame's type leaves alone print as 0 */
    rc = rp_wire_decode(data, size, &f);
    if (rc != RP_WIRE_OK) {
        printf("%s: rejected %d\n", name, (int)rc);
        return;
    }
    printf("%s: type %u payload %" PRIu64 " id %" PRIu64 " locals %u peer %u:%u flags %u"
           " version %u proof %u nonce %" PRIx64 " epoch %" PRIx64 " counter %" PRIx64
           " token %" PRIx64 " cookie %" PRIx64 "\n",
           name, f.type, (uint64_t)f.payload_len, (uint64_t)f.session_id_len, f.local_count,
           f.peer.family, f.peer.port, f.flags, f.version, f.has_proof, f.nonce, f.epoch_to,
           f.counter, f.token, f.cookie);
#endif
}

static int replay_file(const char *name)
{
    FILE *in = fopen(name, "rb");
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, n;
    if (in == NULL) {
        perror(name);
        return 1;
    }
    do {
        if (size == cap) {
            cap = cap * 2 + 4096;
            if ((data = realloc(data, cap)) == NULL)
                abort();
        }
        n = fread(data + size, 1, cap - size, in);
        size += n;
    } while (n > 0);
    fclose(in);
#ifdef RUPHIN_FUZZ_HARNESS_H
    fuzz_nonce = 0; /* each input from the same start, whatever came before */
#endif
    LLVMFuzzerTestOneInput(data, size);
    print_verdict(name, data, size);
    free(data);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file of a folder (not those starting with a dot), in name order: the
 * same order on every system. Returns -1 if path is not a folder. */
static int replay_folder(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    char **names = NULL;
    size_t count = 0, i;
    int failed = 0;
    if (dir == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL) {
        char **more;
        if (entry->d_name[0] == '.')
            continue;
        more = realloc(names, (count + 1) * sizeof *names);
        if (more == NULL || (more[count] = malloc(strlen(path) + strlen(entry->d_name) + 2)) == NULL)
            abort();
        names = more;
        sprintf(names[count++], "%s/%s", path, entry->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof *names, by_name);
    for (i = 0; i < count; i++) {
        failed |= replay_file(names[i]);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    int i, failed = 0;
    for (i = 1; i < argc; i++) {
        int rc = replay_folder(argv[i]);
        failed |= rc < 0 ? replay_file(argv[i]) : rc;
    }
    return failed;
}
