#!/usr/bin/env bash
# The bash completion (packaging/bash-completion/supervise): sources it, sets COMP_LINE,
# COMP_WORDS and COMP_CWORD as bash would for a line typed up to the cursor, calls the
# function and compares COMPREPLY. Also checks that every option of `supervise --help`
# is offered, and that every offered option is one --help knows.
#
# usage: completion_test.sh COMPLETION_FILE SUPERVISE_BINARY TESTDATA_DIR
set -uo pipefail

completion=$(realpath "$1")
supervise=$(realpath "$2")
testdata=$(realpath "$3")

# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: cannot source $completion"; exit 1; }

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# Splits LINE (the cursor at its end) into COMP_WORDS the way bash does for the default
# COMP_WORDBREAKS as far as these tests need: at blanks, and a run of '=' or ':' is a
# word of its own. Then runs the completion function; COMPREPLY holds the answer.
complete_line() {
    local line=$1 token piece
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMP_WORDS=()
    set -f
    for token in $line; do
        while [[ -n $token ]]; do
            if [[ $token =~ ^([=:]+) || $token =~ ^([^=:]+) ]]; then
                piece=${BASH_REMATCH[1]}
                COMP_WORDS+=("$piece")
                token=${token:${#piece}}
            fi
        done
    done
    set +f
    [[ $line == *" " || ${#COMP_WORDS[@]} -eq 0 ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _supervise
}

# expect LINE WORD...: COMPREPLY is exactly WORD... (in any order).
expect() {
    local line=$1
    shift
    complete_line "$line"
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
    want=$(printf '%s\n' "$@" | sort)
    [[ $got == "$want" ]] || fail "'$line': want [${want//$'\n'/ }], got [${got//$'\n'/ }]"
}

# expect_has LINE WORD...: COMPREPLY holds each WORD (and maybe more).
expect_has() {
    local line=$1 w r found
    shift
    complete_line "$line"
    for w in "$@"; do
        found=0
        for r in "${COMPREPLY[@]}"; do [[ $r == "$w" ]] && found=1; done
        ((found)) || fail "'$line': want $w among [${COMPREPLY[*]}]"
    done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/dir"
touch "$tmp/wf.yaml" "$tmp/wf.json" "$tmp/status.json"
cd "$tmp" || exit 1

# Options.
expect "supervise --sp" --spec
expect "supervise --st" --status-file --stop-timeout
expect "supervise --exit-" --exit-action --exit-code-from
expect "supervise --no" --no-manifest
expect "supervise --log-level info --ver" --verbose --version
expect "supervise -q" -q

# Values of options, "--opt VALUE" and "--opt=VALUE" (split at '=' by bash).
expect "supervise --log-level " trace debug info warn error off
expect "supervise --log-level d" debug
expect "supervise --log-level=w" warn
expect "supervise --log-level=" trace debug info warn error off
expect "supervise --signal-target " group child
expect "supervise --signal-target=c" child
expect "supervise --exit-code-from " command action
expect "supervise --exit-code-from a" action
expect "supervise --exit-action " COMPLETE= RESCHEDULE= FAIL=
expect "supervise --exit-action R" RESCHEDULE=
expect "supervise --exit-action=F" FAIL=
expect "supervise --exit-action RESCHEDULE=1" 
expect "supervise --checkpoint " path=
expect "supervise --timeout "
expect "supervise --grace-period 3"

# File names.
expect "supervise --spec wf" wf.json wf.yaml
expect "supervise --spec=wf." wf.json wf.yaml
expect "supervise --status-file st" status.json
expect "supervise --termination-log d" dir
expect "supervise --spec wf.yaml --status-file=s" status.json

# Task names from the --spec given earlier on the line.
expect "supervise --spec $testdata/multi-task.yaml --task " preprocess train evaluate
expect "supervise --spec $testdata/multi-task.yaml --task t" train
expect "supervise --spec=$testdata/workflow-groups.yaml --task " download master worker
expect "supervise --spec $testdata/top-level-tasks.yaml --task=" sleeper
expect "supervise --spec $testdata/single-task.yaml --task " hello
expect "supervise --task "
expect "supervise --spec $tmp/missing.yaml --task "
if command -v python3 >/dev/null; then
    expect "supervise --spec $testdata/train-with-checkpointing.json --task " train
fi

# The command: after --, or at the first word that is not an option.
expect_has "supervise -- tru" true
expect_has "supervise tru" true
expect_has "supervise --log-level info tru" true
expect_has "supervise --exit-action RESCHEDULE=1-255 --checkpoint path=/x,url=file:///y,frequency=5s -- tru" true
expect_has "supervise -- ls d" dir
expect_has "supervise --spec wf.yaml -- cat wf." wf.json wf.yaml
complete_line "supervise -- ls --"
[[ " ${COMPREPLY[*]} " != *" --spec "* ]] || fail "options offered after --: ${COMPREPLY[*]}"

# Without COMP_LINE (words as they are).
unset COMP_LINE COMP_POINT
COMP_WORDS=(supervise --signal-target "")
COMP_CWORD=2
COMPREPLY=()
_supervise
[[ "${COMPREPLY[*]}" == "group child" ]] || fail "without COMP_LINE: got [${COMPREPLY[*]}]"

# Every option of --help is offered, and nothing --help does not know.
help=$("$supervise" --help) || fail "$supervise --help failed"
mapfile -t help_options < <(printf '%s\n' "$help" | grep -E '^  -' |
    grep -oE '(^|[ ,])--?[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u)
((${#help_options[@]} >= 15)) || fail "only ${#help_options[@]} options parsed from --help: ${help_options[*]}"
complete_line "supervise -"
offered=" ${COMPREPLY[*]} "
for o in "${help_options[@]}"; do
    [[ $offered == *" $o "* ]] || fail "$o is in --help but not offered by the completion"
done
for o in ${offered}; do
    [[ $o == -- ]] && continue
    [[ " ${help_options[*]} " == *" $o "* ]] || fail "$o is offered but not in --help"
done

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok: bash completion (${#help_options[@]} options of --help offered)"
