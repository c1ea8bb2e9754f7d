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
  # -v logs each build stage's time; "writing installer ISO" is the whole ISO
  # stage (kernel files out of the image, GRUB images, ESP, libisofs), and
  # "ISO image written in" its last part: libisofs writing the ISO from the
  # prepared files, fsync included, which is what xorriso does below.
  t0=$(now)
  "$ef" -v build --profile "$profile" --output "$run/all" --format squashfs,iso,raw 2>"$run/log" >/dev/null
  t1=$(now)
  iso=$(ls "$run"/all/*.iso)
  ef_iso=$(sed -n 's/.*writing installer ISO: \([0-9.]*\) s.*/\1/p' "$run/log")
  ef_write=$(sed -n 's/.*ISO image written in \([0-9.]*\) s.*/\1/p' "$run/log")
  ef_raw=$(sed -n 's/.*writing raw disk image: \([0-9.]*\) s.*/\1/p' "$run/log")
  if [ ! -d "$iso_tree" ]; then  # the exact tree edgeforge wrote, for xorriso
    xorriso -osirrox on -indev "$iso" -extract / "$iso_tree" >/dev/null 2>&1
    chmod -R u+w "$iso_tree"; rm -f "$iso_tree/boot/grub/boot.cat"
  fi
  rm -f "$run/xorriso.iso"
  t4=$(now)
  xorriso -as mkisofs -quiet -R -J -V BENCH -o "$run/xorriso.iso" \
    -b boot/grub/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
    --grub2-mbr /usr/lib/grub/i386-pc/boot_hybrid.img \
    -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat "$iso_tree" 2>/dev/null
  t5=$(now)
  sync "$run/xorriso.iso"  # fsync, as edgeforge does before renaming its ISO into place
  t6=$(now)
  xo=$(secs "$t4" "$t5"); xs=$(secs "$t4" "$t6")
  echo "round $r: build squashfs+iso+raw $(secs "$t0" "$t1")s, raw stage ${ef_raw}s;" \
       "ISO write ${ef_write}s, whole ISO stage ${ef_iso}s; xorriso ${xo}s, xorriso+fsync ${xs}s;" \
       "ratios write/xorriso+fsync $(echo "scale=2; $ef_write / $xs" | bc)," \
       "stage/xorriso+fsync $(echo "scale=2; $ef_iso / $xs" | bc)"
done
echo "ISO size: edgeforge $(stat -c %s "$iso") bytes, xorriso $(stat -c %s "$run/xorriso.iso") bytes"
