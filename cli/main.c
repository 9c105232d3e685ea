/* The ruphin program: one binary, one subcommand per role, plus a demo. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ruphin COMMAND [OPTIONS]\n"
            "\n"
            "UDP hole punching through a rendezvous holepuncher (libruphin %s).\n"
            "\n"
            "commands:\n"
            "  holepuncher   run the public rendezvous service\n"
            "  server        register a session and talk to the clients that join it\n"
            "  client        join a session and talk to its server\n"
            "  demo          run all three on loopback and show a round trip\n"
            "  keygen        write a new key for sealed sessions (--key-file)\n"
            "\n"
            "ruphin COMMAND --help shows the options of a command.\n",
            ruphin_version());
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"holepuncher", cmd_holepuncher},
        {"server", cmd_server},
        {"client", cmd_client},
        {"demo", cmd_demo},
        {"keygen", cmd_keygen},
    };
    size_t i;

    cli_log_start();
    if (!cli_standard_fds_open())
        return EXIT_RUNTIME;
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ruphin %s\n", ruphin_version());
        return EXIT_OK;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ruphin: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
