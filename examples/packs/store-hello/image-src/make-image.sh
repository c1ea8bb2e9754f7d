#!/bin/sh
# Builds the store-hello container image as an OCI image-layout archive
# (../images/store-hello.tar, or the path given as $1): one gzip layer
# holding the static store-hello binary, an image config, a manifest and an
# index naming the image docker.io/edgeforge/store-hello:1.0.0 (the
# io.containerd.image.name annotation containerd and k3s import by).
# Reproducible: every timestamp is 0 and every owner root, so the same
# compiler and libc give the same bytes. Needs gcc and glibc's libc.a.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../images/store-hello.tar}
name=docker.io/edgeforge/store-hello:1.0.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
(cd "$here" && gcc -static -Os -s -Wall -Werror -o "$work/rootfs/store-hello" store-hello.c)
chmod 0755 "$work/rootfs/store-hello"

det_tar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }
blob() {  # moves $1 into blobs/sha256/<digest>, prints the digest
  d=$(sha "$1")
  mv "$1" "$work/oci/blobs/sha256/$d"
  echo "$d"
}

det_tar -C "$work/rootfs" -cf "$work/layer.tar" store-hello
diff_id=$(sha "$work/layer.tar")
gzip -n -9 <"$work/layer.tar" >"$work/layer.tar.gz"
layer_size=$(size "$work/layer.tar.gz")
layer=$(blob "$work/layer.tar.gz")

printf '%s' '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",'\
'"config":{"Entrypoint":["/store-hello"],"ExposedPorts":{"8080/tcp":{}},"User":"65534:65534"},'\
'"rootfs":{"type":"layers","diff_ids":["sha256:'"$diff_id"'"]}}' >"$work/config.json"
config_size=$(size "$work/config.json")
config=$(blob "$work/config.json")

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config"'","size":'"$config_size"'},'\
'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$layer"'","size":'"$layer_size"'}]}' \
  >"$work/manifest.json"
manifest_size=$(size "$work/manifest.json")
manifest=$(blob "$work/manifest.json")

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'\
'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest"'","size":'"$manifest_size"','\
'"annotations":{"io.containerd.image.name":"'"$name"'","org.opencontainers.image.ref.name":"1.0.0"}}]}' \
  >"$work/oci/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"

mkdir -p "$(dirname "$out")"
det_tar -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "$out: $name (manifest sha256:$manifest)"
