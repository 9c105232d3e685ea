#!/usr/bin/env bash
# The ABI check (docs/API.md, "ABI stability"): compares libruphin's ABI with
# the baseline committed under abi/, using libabigail (Debian: abigail-tools).
#
#   scripts/abi-check.sh [--library FILE] [--include DIR] [--baseline DIR] [--update]
#
# Two corpora are compared, each against its baseline file:
#   libruphin.abi  the library: its exported functions and their signatures,
#                  and the types they reach (ruphin_addr, ruphin_event, the
#                  opaque handles), from the .so's own debug info;
#   ruphin.h.abi   every type and constant of the public header, from a small
#                  object compiled with all of them (the enums, which no
#                  function names since they travel as int32_t, and the
#                  anonymous enum of constants such as RUPHIN_ADDRSTRLEN).
# abi/ruphin.abignore holds libabigail suppressions: changes decided to be
# compatible, each with its reason.
#
# Exit status: 0 when the ABI is the baseline's or only grew (additions are
# listed); 1 when something was removed or changed, or when the soname moved
# but the baseline did not; 2 when the check could not run.
#
# --update writes the current ABI as the new baseline. It refuses a break that
# keeps the soname: the baseline and the soname move together. After a
# decided break (a new soname, that is a new major version) record it with
#   cmake --build build && scripts/abi-check.sh --update
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

library="${RUPHIN_BUILD_DIR:-$ROOT/build}/libruphin.so"
include="$ROOT/core/include"
baseline="$ROOT/abi"
update=0
while (($#)); do
    case $1 in
        --library) library=$2; shift 2 ;;
        --include) include=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        --update) update=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "abi-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "abi-check: $*" >&2; exit 2; }
for tool in abidw abidiff cc; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: abigail-tools, build-essential)"
done
[[ -f $library ]] || die "no library at $library (cmake -S . -B build && cmake --build build)"
[[ -f $include/ruphin.h ]] || die "no ruphin.h in $include"
suppressions="$baseline/ruphin.abignore"
[[ -f $suppressions ]] || suppressions="$ROOT/abi/ruphin.abignore"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The flags that make a dump depend on nothing but the ABI: no paths of the
# checkout or the build, no source lines, no DT_NEEDED (libsodium or not).
stable=(--no-corpus-path --no-comp-dir-path --no-show-locs --short-locs --no-elf-needed)

# The library: exported interfaces only, types of the public header only.
abidw "${stable[@]}" --headers-dir "$include" --drop-private-types --exported-interfaces-only \
    --out-file "$work/libruphin.abi" "$(readlink -f "$library")" ||
    die "abidw failed on $library"
grep -q "<function-decl name='ruphin_" "$work/libruphin.abi" ||
    die "$library has no debug info to read types from (build it with -g: RelWithDebInfo or Debug)"

# The header: an object that holds the debug info of every type and constant
# it declares, used or not. abidw needs one exported symbol to read it.
cat >"$work/ruphin_h.c" <<'EOF'
#include "ruphin.h"
RUPHIN_API void ruphin_abi_header(void);
void ruphin_abi_header(void) {}
EOF
cc -shared -fPIC -g -O0 -std=c11 -fno-eliminate-unused-debug-types -I"$include" \
    -o "$work/ruphin_h.so" "$work/ruphin_h.c" || die "cannot compile $include/ruphin.h"
abidw "${stable[@]}" --load-all-types --out-file "$work/ruphin.h.abi" "$work/ruphin_h.so" ||
    die "abidw failed on the header's object"
# Enumerators whose value may change: RUPHIN_STAT_COUNT, the number of
# counters of the header a program was compiled with, grows when a counter is
# added at the end (a program that knows fewer still works; ruphin_stat
# answers RUPHIN_ERR_INVALID to an id the library does not know). They are
# left out of the header's corpus, so that adding, removing or renumbering any
# other enumerator of their enum still counts. (A libabigail suppression,
# changed_enumerators, would also hide a removal made along with it.)
unchecked_enumerators=(RUPHIN_STAT_COUNT)
for name in "${unchecked_enumerators[@]}"; do
    sed -i "/<enumerator name='$name' /d" "$work/ruphin.h.abi"
done

attr() { sed -n "s/.*<abi-corpus [^>]*$1='\([^']*\)'.*/\1/p" "$2" | head -n 1; }
soname=$(attr soname "$work/libruphin.abi")
[[ -n $soname ]] || die "$library has no SONAME"

# Compares one corpus with its baseline; sets verdict to same, added
# (compatible: additions, or what libabigail deems harmless, such as a member
# renamed) or broken, and report to what abidiff said.
compare() {
    local name=$1 extra=("${@:2}") rc=0
    report=$(abidiff --no-default-suppression --suppressions "$suppressions" "${extra[@]}" \
        "$baseline/$name" "$work/$name" 2>&1) || rc=$?
    if ((rc & 1)); then
        echo "$report" >&2
        die "abidiff failed on $name (status $rc)"
    fi
    # Harmless changes (an enumerator added) and those abi/ruphin.abignore
    # allows are filtered out of the report and leave the status at 0: show
    # them all the same, from a report without suppressions.
    verdict=same
    if ((rc == 0)); then
        if grep -q "filtered out" <<<"$report"; then
            report=$(abidiff --no-default-suppression --harmless "${extra[@]}" \
                "$baseline/$name" "$work/$name" 2>&1) || true
            if grep -Eiq '[1-9][0-9]* (added|changed|removed)' <<<"$report"; then
                verdict=added
            fi
        fi
    elif ((rc & 8)); then
        verdict=broken
    # ABI_CHANGE without INCOMPATIBLE_CHANGE: libabigail leaves the call to a
    # human. Additions alone are compatible; any removal or change of what
    # was there is taken as a break.
    elif grep -Eio '[0-9]+ (removed|changed)' <<<"$report" | grep -Evq '^0 '; then
        verdict=broken
    elif grep -q "SONAME changed" <<<"$report"; then
        verdict=broken
    else
        verdict=added
    fi
}

# Compares both corpora; sets result to same, added or broken, and prints.
check() {
    local worst=same name
    for name in libruphin.abi ruphin.h.abi; do
        [[ -f $baseline/$name ]] || die "no baseline $baseline/$name (scripts/abi-check.sh --update makes one)"
        if [[ $name == ruphin.h.abi ]]; then
            compare "$name" --non-reachable-types
        else
            compare "$name"
        fi
        case $verdict in
            same) echo "$name: the baseline's" ;;
            added) echo "$name: compatible changes"
                   [[ $worst == broken ]] || worst=added ;;
            broken) echo "$name: INCOMPATIBLE with the baseline"
                    worst=broken ;;
        esac
        [[ $verdict == same ]] || echo "    ${report//$'\n'/$'\n'    }"
    done
    result=$worst
}

write_baseline() {
    mkdir -p "$baseline"
    cp "$work/libruphin.abi" "$work/ruphin.h.abi" "$baseline/"
    echo "abi-check: wrote the baseline of $soname to $baseline"
}

if [[ ! -f $baseline/libruphin.abi ]]; then
    ((update)) || die "no baseline in $baseline (scripts/abi-check.sh --update makes one)"
    write_baseline
    exit 0
fi

arch=$(attr architecture "$work/libruphin.abi")
base_arch=$(attr architecture "$baseline/libruphin.abi")
[[ $arch == "$base_arch" ]] ||
    die "the baseline is for $base_arch, $library is $arch: nothing to compare"
base_soname=$(attr soname "$baseline/libruphin.abi")

echo "abi-check: $library ($soname) against $baseline ($base_soname)"
check

if ((update)); then
    if [[ $result == broken && $soname == "$base_soname" ]]; then
        echo "abi-check: refusing to record a break that keeps the soname $soname:" \
             "an incompatible change needs a new soname (a new major version, docs/API.md)" >&2
        exit 1
    fi
    write_baseline
    exit 0
fi

if [[ $soname != "$base_soname" ]]; then
    echo "abi-check: FAILED: the soname moved ($base_soname -> $soname) but the baseline did not;" \
         "if this break is decided, record it: scripts/abi-check.sh --update" >&2
    exit 1
fi
case $result in
    same) echo "abi-check: OK, the ABI of the baseline" ;;
    added) echo "abi-check: OK, compatible changes, listed above (a release records them:" \
                "scripts/abi-check.sh --update)" ;;
    broken) echo "abi-check: FAILED: an incompatible change keeping the soname $soname." \
                 "Undo it, or decide the break: a new major version (a new soname)," \
                 "then scripts/abi-check.sh --update (docs/API.md, \"ABI stability\")" >&2
            exit 1 ;;
esac
