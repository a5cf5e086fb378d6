#!/usr/bin/env bash
# Usage: expect_output.sh REGEX COMMAND [ARGS...]: runs the command and passes only when it exits 0 AND a
# line of its output (stdout and stderr) matches REGEX (grep -E). CTest's PASS_REGULAR_EXPRESSION alone
# ignores the exit status, so a crash after the matching line would pass.
set -u
pattern=$1
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: exit $rc (want 0)"
  exit 1
fi
if ! grep -qE -- "$pattern" <<<"$out"; then
  echo "FAIL: no line matches '$pattern'"
  exit 1
fi
