/* The steering program of a holepuncher group; see steer.h. */
#include "steer.h"

#ifdef __linux__
#include <linux/filter.h>
#include <string.h>

enum { FNV_BASIS = 2166136261u, FNV_PRIME = 16777619u, MAX_ID = 20 };

/* Scratch memory cells of the program. */
enum { M_LEN = 0, M_HASH = 1, M_OFFSET = 2 };

/* A tiny assembler: jumps name a label, resolved once all is emitted
 * (classic BPF jumps only forward, by at most 255). */
enum label {
    L_OTHER, L_ACK, L_JOIN_PROBE, L_RELAY, L_EXT, L_V0, L_HASH, L_DONE, LABELS, NO_LABEL = -1
};

typedef struct program {
    struct sock_filter *insns;
    unsigned n;
    unsigned at[LABELS];                                  /* where each label is */
    int jt_label[RP_STEER_MAX_INSNS], jf_label[RP_STEER_MAX_INSNS];
} program;

static void emit(program *p, unsigned short code, int jt, int jf, unsigned k)
{
    struct sock_filter insn = {code, 0, 0, k};
    p->jt_label[p->n] = jt;
    p->jf_label[p->n] = jf;
    p->insns[p->n++] = insn;
}

static void label(program *p, enum label l)
{
    p->at[l] = p->n;
}

/* An unconditional jump (its distance is k, not jt). */
static void jump(program *p, enum label to)
{
    emit(p, BPF_JMP | BPF_JA, (int)to, NO_LABEL, 0);
}

static void resolve(program *p)
{
    unsigned i;
    for (i = 0; i < p->n; i++) {
        if (p->insns[i].code == (BPF_JMP | BPF_JA))
            p->insns[i].k = p->at[p->jt_label[i]] - i - 1;
        else if (p->jt_label[i] != NO_LABEL)
            p->insns[i].jt = (unsigned char)(p->at[p->jt_label[i]] - i - 1);
        if (p->jf_label[i] != NO_LABEL)
            p->insns[i].jf = (unsigned char)(p->at[p->jf_label[i]] - i - 1);
    }
}

/* Jumps to `to` when the type (in A) is `type`. */
static void on_type(program *p, unsigned type, enum label to)
{
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (int)to, NO_LABEL, type);
}

/* FNV-1a over M_LEN bytes from offset M_OFFSET, then modulo the members. */
static void emit_hash(program *p, unsigned members)
{
    unsigned i;
    label(p, L_HASH);
    emit(p, BPF_LD | BPF_IMM, NO_LABEL, NO_LABEL, FNV_BASIS);
    emit(p, BPF_ST, NO_LABEL, NO_LABEL, M_HASH);
    for (i = 0; i < MAX_ID; i++) {
        emit(p, BPF_LD | BPF_MEM, NO_LABEL, NO_LABEL, M_LEN);
        emit(p, BPF_JMP | BPF_JGT | BPF_K, NO_LABEL, L_DONE, i); /* byte i is in the id */
        emit(p, BPF_LDX | BPF_MEM, NO_LABEL, NO_LABEL, M_OFFSET);
        emit(p, BPF_LD | BPF_B | BPF_IND, NO_LABEL, NO_LABEL, i);
        emit(p, BPF_LDX | BPF_MEM, NO_LABEL, NO_LABEL, M_HASH);
        emit(p, BPF_ALU | BPF_XOR | BPF_X, NO_LABEL, NO_LABEL, 0);
        emit(p, BPF_ALU | BPF_MUL | BPF_K, NO_LABEL, NO_LABEL, FNV_PRIME);
        emit(p, BPF_ST, NO_LABEL, NO_LABEL, M_HASH);
    }
    label(p, L_DONE);
    emit(p, BPF_LD | BPF_MEM, NO_LABEL, NO_LABEL, M_HASH);
    emit(p, BPF_ALU | BPF_MOD | BPF_K, NO_LABEL, NO_LABEL, members);
    emit(p, BPF_RET | BPF_A, NO_LABEL, NO_LABEL, 0);
}

/* The id's length is the byte at `at`, the id follows it: hash it. */
static void hash_id_after_length(program *p, unsigned at)
{
    emit(p, BPF_LD | BPF_B | BPF_ABS, NO_LABEL, NO_LABEL, at);
    emit(p, BPF_ST, NO_LABEL, NO_LABEL, M_LEN);
    emit(p, BPF_LD | BPF_IMM, NO_LABEL, NO_LABEL, at + 1);
    emit(p, BPF_ST, NO_LABEL, NO_LABEL, M_OFFSET);
    jump(p, L_HASH);
}

/* The program's packet data starts at the UDP payload (the frame). A
 * return value of at least `members` leaves the choice to the kernel. */
size_t rp_steer_program(struct sock_filter *insns, unsigned members)
{
    program p;
    memset(&p, 0, sizeof p);
    p.insns = insns;
    emit(&p, BPF_LD | BPF_H | BPF_ABS, NO_LABEL, NO_LABEL, 2); /* the type */
    on_type(&p, 2, L_V0);
    on_type(&p, 3, L_V0);
    on_type(&p, 11, L_EXT);
    on_type(&p, 12, L_EXT);
    on_type(&p, 18, L_EXT); /* Unregister */
    on_type(&p, 15, L_RELAY);
    on_type(&p, 6, L_ACK);
    label(&p, L_OTHER);
    emit(&p, BPF_RET | BPF_K, NO_LABEL, NO_LABEL, 0xffffffffu);
    label(&p, L_ACK); /* a join probe (wire.h) starts with ff 6a */
    emit(&p, BPF_LD | BPF_H | BPF_ABS, NO_LABEL, NO_LABEL, 4);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, L_JOIN_PROBE, NO_LABEL, 0xff6a);
    emit(&p, BPF_RET | BPF_K, NO_LABEL, NO_LABEL, 0xffffffffu); /* the probe, any other */
    label(&p, L_JOIN_PROBE);
    hash_id_after_length(&p, 6);
    label(&p, L_RELAY);
    emit(&p, BPF_LD | BPF_W | BPF_ABS, NO_LABEL, NO_LABEL, 8); /* the nonce's low word */
    emit(&p, BPF_ALU | BPF_MOD | BPF_K, NO_LABEL, NO_LABEL, members);
    emit(&p, BPF_RET | BPF_A, NO_LABEL, NO_LABEL, 0);
    label(&p, L_EXT);
    hash_id_after_length(&p, 4);
    label(&p, L_V0); /* the id is the rest of the frame */
    emit(&p, BPF_LD | BPF_W | BPF_LEN, NO_LABEL, NO_LABEL, 0);
    emit(&p, BPF_ALU | BPF_SUB | BPF_K, NO_LABEL, NO_LABEL, 4);
    emit(&p, BPF_ST, NO_LABEL, NO_LABEL, M_LEN);
    emit(&p, BPF_LD | BPF_IMM, NO_LABEL, NO_LABEL, 4);
    emit(&p, BPF_ST, NO_LABEL, NO_LABEL, M_OFFSET);
    emit_hash(&p, members);
    resolve(&p);
    return p.n;
}
#endif

uint64_t rp_steer_nonce(uint64_t nonce, unsigned member, unsigned members)
{
    /* Keep the high word, make the low one member mod members; below
     * UINT32_MAX / members * members, so it cannot wrap, and with the high
     * word never zero unless both are. */
    uint32_t low = (uint32_t)nonce, span = UINT32_MAX / members;
    uint64_t v = (nonce & 0xffffffff00000000ull) | ((uint64_t)(low % span) * members + member);
    return v != 0 ? v : members; /* 0 means "none"; members is member 0's too */
}
