# shellcheck shell=bash
# Sourced by the bench-*.sh scripts: make_bench_image DIR prints the path of
# a realistic squashfs image in DIR, making it on first use from the cached
# mmdebstrap bookworm base (tar2sqfs, zstd level 3) or, without one, from /usr.
make_bench_image() {
  local image=$1/image.squashfs base
  if [ ! -f "$image" ]; then
    base=$(ls -S "$HOME"/.cache/edgeforge/keyed/*.tar 2>/dev/null | head -1 || true)
    if [ -n "$base" ]; then
      echo "making $image from $base with tar2sqfs" >&2
      tar2sqfs -q -f -c zstd -X level=3 "$image" < "$base" >/dev/null 2>&1
    else
      echo "making $image from /usr with mksquashfs" >&2
      mksquashfs /usr "$image" -noappend -quiet -comp zstd -Xcompression-level 3 >/dev/null
    fi
  fi
  echo "$image"
}
