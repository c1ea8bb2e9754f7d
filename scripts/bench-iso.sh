#!/usr/bin/env bash
# ISO assembly: edgeforge (libisofs, in-process) vs `xorriso -as mkisofs` on
# the same tree, same run; plus total `build` time for squashfs + ISO + raw.
# Usage: scripts/bench-iso.sh [PROFILE] [ROUNDS]  (default: the quick-start)
# Needs a built edgeforge in build/ or $EDGEFORGE. A benchmark, not a test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-$here/examples/quickstart/profile.yaml}
rounds=${2:-3}
ef=${EDGEFORGE:-$here/build/cli/edgeforge}
run=$(mktemp -d /tmp/edgeforge-bench-iso.XXXXXX)
trap 'rm -rf "$run"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# Warm the base cache so every timed run starts equal.
"$ef" build -q --profile "$profile" --output "$run/warm" --format squashfs
iso_tree="$run/tree"

for r in $(seq 1 "$rounds"); do
  # -v logs each build stage's time; "writing installer ISO" is the ISO
  # assembly (kernel files out of the image, GRUB images, ESP, libisofs).
  t0=$(now)
  "$ef" -v build --profile "$profile" --output "$run/all" --format squashfs,iso,raw 2>"$run/log" >/dev/null
  t1=$(now)
  iso=$(ls "$run"/all/*.iso)
  ef_iso=$(sed -n 's/.*writing installer ISO: \([0-9.]*\) s.*/\1/p' "$run/log")
  ef_raw=$(sed -n 's/.*writing raw disk image: \([0-9.]*\) s.*/\1/p' "$run/log")
  if [ ! -d "$iso_tree" ]; then  # the exact tree edgeforge wrote, for xorriso
    xorriso -osirrox on -indev "$iso" -extract / "$iso_tree" >/dev/null 2>&1
    chmod -R u+w "$iso_tree"; rm -f "$iso_tree/boot/grub/boot.cat"
  fi
  t4=$(now)
  xorriso -as mkisofs -quiet -R -J -V BENCH -o "$run/xorriso.iso" \
    -b boot/grub/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
    --grub2-mbr /usr/lib/grub/i386-pc/boot_hybrid.img \
    -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat "$iso_tree"
  t5=$(now)
  xo=$(secs "$t4" "$t5")
  echo "round $r: build squashfs+iso+raw $(secs "$t0" "$t1")s (ISO stage ${ef_iso}s, raw stage ${ef_raw}s);" \
       "xorriso -as mkisofs ${xo}s; ratio ISO stage / xorriso $(echo "scale=2; $ef_iso / $xo" | bc)"
done
echo "ISO size: edgeforge $(stat -c %s "$iso") bytes, xorriso $(stat -c %s "$run/xorriso.iso") bytes"
