#!/usr/bin/env bash
# The man page (docs/supervise.1): groff renders it without a warning, it names every
# option and every environment variable of `supervise --help`, and the build's gzipped
# copy is the page itself.
#
# usage: manpage_test.sh MAN_PAGE SUPERVISE_BINARY GZIPPED_MAN_PAGE
set -uo pipefail

page=$1
supervise=$2
gzipped=$3

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
[[ -z $warnings ]] || fail "groff warns about $page:"$'\n'"$warnings"

text=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$page" 2>/dev/null)
help=$("$supervise" --help) || fail "$supervise --help failed"

mapfile -t options < <(printf '%s\n' "$help" | grep -E '^  -' |
    grep -oE '(^|[ ,])--?[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u)
((${#options[@]} >= 15)) || fail "only ${#options[@]} options parsed from --help"
for o in "${options[@]}"; do
    grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" <<<"$text" || fail "$o (in --help) is not in the man page"
done

mapfile -t variables < <(printf '%s\n' "$help" | sed -n '/^Environment/,/^$/p' |
    grep -oE '\b(SUPERVISE|AWS)_[A-Z0-9_]+' | sort -u)
((${#variables[@]} >= 5)) || fail "only ${#variables[@]} environment variables parsed from --help"
for v in "${variables[@]}"; do
    grep -qw -- "$v" <<<"$text" || fail "$v (in --help) is not in the man page"
done
for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
    grep -qx -- "$section" <<<"$text" || fail "the man page has no $section section"
done

if [[ -f $gzipped ]]; then
    cmp -s <(gzip -dc "$gzipped") "$page" || fail "$gzipped is not $page gzipped"
else
    fail "$gzipped was not built"
fi

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok: man page (${#options[@]} options, ${#variables[@]} variables)"
