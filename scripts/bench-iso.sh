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

# Warm the base cache and the squashfs so every timed run starts equal.
"$ef" build -q --profile "$profile" --output "$run/warm" --format squashfs
iso_tree="$run/tree"

for r in $(seq 1 "$rounds"); do
  t0=$(now); "$ef" build -q --profile "$profile" --output "$run/sq" --format squashfs; t1=$(now)
  "$ef" build -q --profile "$profile" --output "$run/iso" --format squashfs,iso; t2=$(now)
  "$ef" build -q --profile "$profile" --output "$run/all" --format squashfs,iso,raw; t3=$(now)
  iso=$(ls "$run"/iso/*.iso)
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
  ef_iso=$(secs "$t1" "$t2"); ef_sq=$(secs "$t0" "$t1"); xo=$(secs "$t4" "$t5")
  iso_only=$(echo "$ef_iso - $ef_sq" | bc)
  echo "round $r: build squashfs ${ef_sq}s; squashfs+iso ${ef_iso}s (ISO stage ${iso_only}s);" \
       "squashfs+iso+raw $(secs "$t2" "$t3")s; xorriso -as mkisofs ${xo}s;" \
       "ratio ISO stage / xorriso $(echo "scale=2; $iso_only / $xo" | bc)"
done
echo "ISO size: edgeforge $(stat -c %s "$iso") bytes, xorriso $(stat -c %s "$run/xorriso.iso") bytes"
