# shellcheck shell=bash
# Sourced by the bench-*.sh scripts.

# bench_base_tar prints the cached mmdebstrap bookworm base (a root file
# system with a kernel, from building examples/quickstart), or fails.
bench_base_tar() {
  local base
  # ls -S: the largest (the fullest base); the names are sha256 digests.
  # shellcheck disable=SC2012
  base=$(ls -S "$HOME"/.cache/edgeforge/keyed/*.tar 2>/dev/null | head -1 || true)
  [ -n "$base" ] && echo "$base"
}

# make_bench_image DIR prints the path of a realistic squashfs image in DIR,
# making it on first use from the cached base (tar2sqfs, zstd level 3) or,
# without one, from /usr.
make_bench_image() {
  local image=$1/image.squashfs base
  if [ ! -f "$image" ]; then
    if base=$(bench_base_tar); then
      echo "making $image from $base with tar2sqfs" >&2
      tar2sqfs -q -f -c zstd -X level=3 "$image" < "$base" >/dev/null 2>&1
    else
      echo "making $image from /usr with mksquashfs" >&2
      mksquashfs /usr "$image" -noappend -quiet -comp zstd -Xcompression-level 3 >/dev/null
    fi
  fi
  echo "$image"
}
