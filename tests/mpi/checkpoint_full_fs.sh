#!/usr/bin/env bash
# Usage: checkpoint_full_fs.sh MPIEXEC BPTRAIN. Exit 77 (skipped) where no tmpfs can be mounted.
set -u
mpiexec=$1 bptrain=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail=0
say() { echo "$*"; }
bad() { echo "FAIL $*"; fail=1; }
# A file system that fills up: the write fails with the OS's reason and the space it lacked, the
# temporary file is removed, and the previous checkpoint is untouched and loads (a 3 MB tmpfs: root).
small=$tmp/small
mkdir -p "$small"
if mount -t tmpfs -o size=3M tmpfs "$small" 2>/dev/null; then
  trap 'umount "$small" 2>/dev/null; rm -rf "$tmp"' EXIT
  Q="--train synthetic:4000,64,4 --hidden 400,400 --quiet"  # a 2.3 MB checkpoint: one fits, two do not
  $bptrain $Q --epochs 1 --checkpoint "$small/ck.h5" >/dev/null 2>&1 || bad "the first checkpoint on the small file system"
  before=$(md5sum < "$small/ck.h5")
  out=$($mpiexec -n 2 $bptrain $Q --epochs 2 --checkpoint "$small/ck.h5" --resume "$small/ck.h5" 2>&1); rc=$?
  if [ $rc -eq 1 ] && grep -q "ck.h5: not written: No space left on device; .* MB left on its file system, the checkpoint needs about 2.3 MB" <<<"$out" \
     && [ "$(ls "$small")" = ck.h5 ] && [ "$(md5sum < "$small/ck.h5")" = "$before" ] \
     && $bptrain --evaluate "$small/ck.h5" --train synthetic:4000,64,4 >/dev/null 2>&1; then
    say "ok   full-file-system (exit 1, the reason named, no temporary file left, the previous checkpoint intact and loading)"
  else
    bad "full file system: exit $rc, files: $(ls "$small" | tr '\n' ' ')"; grep "bptrain: error" <<<"$out"
  fi
  umount "$small"
else
  say "SKIP full-file-system: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"
  exit 77
fi

exit $fail
