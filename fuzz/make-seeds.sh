#!/usr/bin/env bash
# Regenerates the fuzz targets' seed corpora (fuzz/corpus/TARGET/) from small
# inputs made with edgeforge itself and with tools nobody here wrote (tar,
# gzip, zstd, grub-editenv, openssl), and fuzz/keys/fuzz.pub, the key the
# signed seeds (bundle heads, channel files) carry. The private key is made
# fresh and thrown away: nothing secret is committed.
# Usage: fuzz/make-seeds.sh [EDGEFORGE]   (default: build/cli/edgeforge)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
edgeforge=$(realpath "${1:-build/cli/edgeforge}")
corpus=$root/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$corpus"
for t in profile pack template site archive oci bundle chunk_index channel grubenv boot_entries agent_files http fleet_api; do
  mkdir -p "$corpus/$t"
done
# seed TARGET NAME [SELECTOR-BYTE] < content
seed() {
  local out=$corpus/$1/$2
  if [ $# -ge 3 ]; then printf "\\x$(printf %02x "$3")" >"$out"; else : >"$out"; fi
  cat >>"$out"
}

# --- keys, a bundle, its head and chunk index, a channel ------------------
cd "$work"
"$edgeforge" keygen --out keys -q >/dev/null
cp keys/signing.pub "$root/fuzz/keys/fuzz.pub"
mkdir -p root/etc root/usr/bin
printf 'ID=debian\nVERSION_CODENAME=bookworm\n' >root/etc/os-release
printf '#!/bin/sh\n' >root/usr/bin/true-ish
tar --sort=name --owner=0 --group=0 --mtime=@1747699200 -C root -cf rootfs.tar .
cat >profile.yaml <<'YAML'
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: edge, version: 1.2.0}
spec:
  base: {tarball: {path: rootfs.tar}}
  bundle: {compatible: edge-nuc, minVersion: 1.0.0}
  output: {compression: gzip, blockSize: 4096}
YAML
"$edgeforge" build -p profile.yaml -o out -q --sign-key keys/signing.key
"$edgeforge" publish out/edge-1.2.0.efb --to store -q >/dev/null
head=store/edge-1.2.0.efbh
python3 - "$head" "$corpus" <<'PY'
import json, struct, sys
head = open(sys.argv[1], 'rb').read()
corpus = sys.argv[2]
# Header fields (docs/bundle-format.md, little-endian).
manifest_size, signatures_size = struct.unpack_from('<II', head, 16)
payload_offset = struct.unpack_from('<Q', head, 24)[0]
manifest = head[64:64 + manifest_size]
signatures = head[64 + manifest_size:64 + manifest_size + signatures_size]
index = head[payload_offset:]
def put(target, name, selector, data):
    with open(f'{corpus}/{target}/{name}', 'wb') as f:
        f.write((bytes([selector]) if selector is not None else b'') + data)
put('bundle', 'head', 0, head)
put('bundle', 'manifest', 1, manifest)
put('bundle', 'signatures', 2, signatures)
put('bundle', 'header', 3, head[:64])
put('bundle', 'base64', 4, json.loads(signatures)['signatures'][0]['signature'].encode())
m = json.loads(manifest)
payload_size = m['payload']['size']
put('chunk_index', 'index', None, struct.pack('<Q', payload_size) + index + bytes([8]))
# A slot's chunk index as the agent keeps it beside its journal.
c = m['chunks']
line = 'edgeforge-slot-chunks 1 %s %d %d %d %d %d %d %d %s\n' % (
    c['algorithm'], c['minSize'], c['avgSize'], c['maxSize'], m['image']['size'], payload_size,
    c['count'], c['indexSize'], c['indexSha256'])
put('agent_files', 'slot-chunks', 6, line.encode() + index)
PY

"$edgeforge" channel init --to channels -c stable -k keys/signing.key -q
cp "$head" channels/
"$edgeforge" channel release --to channels -c stable -k keys/signing.key -q \
  --head channels/edge-1.2.0.efbh --wave canary=tag:site=store-0042,soak=1h --wave early=10%,soak=2h \
  --wave rest=100%,max-per-hour=50 --fleet-size 2000 --gate min-succeeded=2,max-failed=5%
python3 - channels/stable.json "$corpus" <<'PY'
import json, sys
raw = open(sys.argv[1], 'rb').read()
corpus = sys.argv[2]
def put(name, selector, data):
    with open(f'{corpus}/channel/{name}', 'wb') as f:
        f.write(bytes([selector]) + data)
put('file', 0, raw)
doc = json.loads(raw)['signed']
put('doc', 1, json.dumps(doc, separators=(',', ':'), sort_keys=True, ensure_ascii=False).encode())
put('url', 3, b'releases/edge-1.2.0.efbh')
PY
"$edgeforge" channel pause --to channels -c stable -k keys/signing.key -q
python3 - channels/stable.json "$corpus" <<'PY'
import sys
with open(f'{sys.argv[2]}/channel/file-paused', 'wb') as f:
    f.write(b'\x00' + open(sys.argv[1], 'rb').read())
PY
python3 - "$corpus" <<'PY'
import json, sys
state = {"artifactSha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
         "channel": "stable", "expires": "2027-01-05T00:00:00Z", "formatVersion": 1,
         "issued": "2026-12-06T00:00:00Z", "opened": {"canary": "2026-12-06T01:00:00Z"},
         "paused": False, "reason": "gate passed", "release": "1.2.0", "resumed": "2026-12-06T02:00:00Z", "version": 3}
with open(f'{sys.argv[1]}/channel/rollout-state', 'wb') as f:
    f.write(b'\x02' + json.dumps(state, separators=(',', ':'), sort_keys=True).encode())
PY

# --- grubenv -------------------------------------------------------------
grub-editenv env create
grub-editenv env set slot=A A_OK=1 B_OK=0 A_TRY=0 B_TRY=2 'note=back\slash'
seed grubenv slots <env
grub-editenv env2 create
seed grubenv empty <env2

# --- boot_entries: systemd-boot entries, LoaderEntrySelected, a kernel image
seed boot_entries entries 0 <<'TXT'
edgeforge-slot-a.conf title edgeforge slot A sort-key edgeforge-2
edgeforge-slot-b+2-1.conf title edgeforge slot B sort-key edgeforge-1
TXT
printf '\x06\x00\x00\x00' >"$work/var"
printf 'edgeforge-slot-b+2-1.conf' | iconv -f ascii -t utf-16le >>"$work/var"
printf '\x00\x00' >>"$work/var"
seed boot_entries loader-entry 1 <"$work/var"
# A minimal PE32+ (x86-64 EFI application) with .text and .cmdline sections,
# the shape of a unified kernel image.
python3 - "$work/pe" <<'PY'
import struct, sys
cmdline = b"boot=edgeforge ro edgeforge.verity=" + b"ab" * 32 + b" panic=10"
sections = [(b".text", b"\xc3" * 16), (b".cmdline", cmdline)]
n = len(sections)
opt_size = 112 + 16 * 8
headers = 0x40 + 4 + 20 + opt_size + 40 * n
size_of_headers = (headers + 0x1ff) // 0x200 * 0x200
dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
coff = struct.pack("<HHIIIHH", 0x8664, n, 0, 0, 0, opt_size, 0x0206)
raw, table, va, off = b"", b"", 0x1000, size_of_headers
for name, data in sections:
    padded = data + b"\0" * (-len(data) % 0x200)
    table += struct.pack("<8sIIIIIIHHI", name, len(data), va, len(padded), off, 0, 0, 0, 0, 0x40000040)
    raw += padded
    va += 0x1000
    off += len(padded)
opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", 0x20b, 0, 0, 0x200, 0x200, 0, 0x1000, 0x1000,
                  0, 0x1000, 0x200, 0, 0, 0, 0, 0, 0, 0, va, size_of_headers, 0, 10, 0,
                  0, 0, 0, 0, 0, 16) + b"\0" * 128
head = dos + b"PE\0\0" + coff + opt + table
open(sys.argv[1], "wb").write(head + b"\0" * (size_of_headers - len(head)) + raw)
PY
seed boot_entries kernel-image 2 <"$work/pe"

# --- profiles --------------------------------------------------------------
seed profile quickstart <<'YAML'
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata:
  name: quickstart
  version: 0.1.0
  epoch: 1747699200
spec:
  base:
    mmdebstrap:
      suite: bookworm
      variant: minbase
      packages: [systemd-sysv, linux-image-amd64]
  layers:
    - directory: {path: site}
    - files:
        - {path: /etc/hostname, content: "edge\n"}
        - {path: /etc/motd, source: files/motd, mode: 0644}
  output:
    compression: zstd
    level: 15
    blockSize: 131072
YAML
{
  cat <<'YAML'
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: store-edge, version: 2.1.0}
spec:
  extends: [parent.yaml]
  kubernetes: {distribution: k3s, version: v1.30.4+k3s1, role: server}
  packs:
    - path: pack
      values: {namespace: store, replicas: 2}
  bundle: {compatible: edge-nuc, minVersion: 2.0.0}
  agent:
    keyring: [keys/fuzz.pub]
    tries: 2
    health: {timeoutSeconds: 300, units: [k3s.service], commands: [{run: "true", timeoutSeconds: 5}]}
  output: {formats: [squashfs, iso, raw]}
YAML
  printf '\n#@parent\n'
  cat <<'YAML'
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
spec:
  extends: [base.yaml]
  base: {tarball: {path: base.tar}}
  layers:
    - tarball: {path: base.tar}
    - files:
        - {path: /etc/sysctl.d/90-edge.conf, content: "kernel.panic = 10\n"}
YAML
  printf '\n#@parent\n'
  cat <<'YAML'
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
spec:
  output: {compression: xz, level: 6, disk: {espSize: 128, slotSize: 2048, persistentSize: 1024},
           persistentPaths: [/etc/ssh], installerSite: site.yaml}
YAML
} | seed profile extends
sed 's|\.\./overlays/site|site|; s|^kind: Profile$|kind: Profile\nmetadata: {name: system, version: 1.0.0}\nspec:\n  base: {tarball: {path: base.tar}}|' \
  "$root/examples/system/base.yaml" | awk 'NR==1 || !(/^spec:$/ && seen++)' | seed profile system
{
  sed 's|system\.yaml|parent.yaml|; s|\.\./packs/[a-z-]*|pack|; s|site\.yaml|site/etc/hostname|' \
    "$root/examples/k3s-store/cluster.yaml"
  printf '\n#@parent\n'
  sed 's|\.\./overlays/site|site|; s|\.\./system/base\.yaml|base.yaml|' "$root/examples/k3s-store/system.yaml"
  printf '\n#@parent\n'
  sed 's|\.\./overlays/site|site|' "$root/examples/system/base.yaml"
} | seed profile k3s-cluster

# --- packs and templates ---------------------------------------------------
for p in store-hello store-status flannel; do
  {
    cat "$root/examples/packs/$p/pack.yaml"
    printf '\n#@manifest\n'
    cat "$root"/examples/packs/$p/manifests/*.yaml | head -c 2048
  } | seed pack "$p"
  {
    cat "$root"/examples/packs/$p/manifests/*.yaml | head -c 2048
    printf '\n#@values\n{"namespace":"store","message":"hi","nodePort":30081,"labels":{"a":"b"},"list":[1,2]}'
  } | seed template "$p"
done
tar --sort=name --owner=0 --group=0 --mtime=@1747699200 -C "$root/examples/packs" -cf - store-status |
  gzip -9n | seed pack store-status.tar.gz
printf '{{#items}}- {{name}}: {{value.json}}\n{{/items}}{{^items}}none{{/items}}\n#@values\n{"items":[{"name":"a","value":{"x":1}}]}' |
  seed template sections

# --- site files --------------------------------------------------------------
cat "$root/examples/k3s-store/site.yaml" | seed site k3s-store
for f in "$root"/examples/*/site.yaml "$root"/examples/*/*/site.yaml; do
  [ -f "$f" ] && seed site "$(basename "$(dirname "$f")")" <"$f"
done
sed -n '/^```yaml/,/^```/p' "$root/docs/site-config.md" | sed '1d;$d' | head -c 4096 | seed site documented

# --- tarball layers ----------------------------------------------------------
cd "$work"
mkdir -p t1/etc/sub t1/usr/bin t1/opq
printf 'one\n' >t1/etc/a
printf 'two\n' >t1/opq/old
ln -s ../usr/bin t1/etc/bin
ln t1/etc/a t1/etc/hard
setfattr -n user.tag -v edge t1/etc/a 2>/dev/null || true
tar --sort=name --owner=0 --group=0 --mtime=@1747699200 --xattrs -C t1 -cf layer1.tar .
mkdir -p t2/etc t2/opq
: >t2/etc/.wh.a
: >t2/opq/.wh..wh..opq
printf 'new\n' >t2/opq/new
tar --sort=name --owner=0 --group=0 --mtime=@1747699200 -C t2 -cf layer2.tar .
seed archive plain <layer1.tar
{ cat layer1.tar; printf '#@layer#@layer#@'; cat layer2.tar; } | seed archive whiteouts
gzip -9n <layer1.tar | seed archive gzip
zstd -q -19 <layer2.tar | seed archive zstd
tar --format=gnu --owner=0 --group=0 --mtime=@1747699200 -C t1 -cf - ./etc | seed archive gnu

# --- OCI and docker-save archives ------------------------------------------
python3 - "$work" "$corpus/oci" <<'PY'
import hashlib, io, json, sys, tarfile
work, out = sys.argv[1], sys.argv[2]
layer = open(f'{work}/layer2.tar', 'rb').read()
def digest(b): return 'sha256:' + hashlib.sha256(b).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1747699200
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}]}).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": digest(manifest), "size": len(manifest),
    "annotations": {"org.opencontainers.image.ref.name": "registry.example/app:1.0"}}]}).encode()
blob = lambda b: ('blobs/sha256/' + hashlib.sha256(b).hexdigest(), b)
open(f'{out}/oci-archive', 'wb').write(tar_of([('oci-layout', b'{"imageLayoutVersion":"1.0.0"}'),
    ('index.json', index), blob(manifest), blob(config), blob(layer)]))
docker_manifest = json.dumps([{"Config": blob(config)[0], "RepoTags": ["app:1.0"],
                               "Layers": [blob(layer)[0]]}]).encode()
open(f'{out}/docker-save', 'wb').write(tar_of([blob(config), blob(layer), ('manifest.json', docker_manifest)]))
legacy = json.dumps([{"Config": "cfg.json", "RepoTags": ["app:1.0"], "Layers": ["l1/layer.tar"]}]).encode()
open(f'{out}/docker-save-legacy', 'wb').write(tar_of([('cfg.json', config), ('l1/layer.tar', layer),
                                                      ('manifest.json', legacy)]))
PY

# --- files the agent reads ---------------------------------------------------
seed agent_files journal 0 <<'JSON'
{
  "floor": "1.0.0",
  "formatVersion": 1,
  "operation": {"bundle": "https://updates.example/edge-1.2.0.efbh", "error": "", "kind": "upgrade",
                "phase": "writing", "slot": "B", "version": "1.2.0"},
  "slots": {
    "A": {"health": "good", "imageSha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          "minVersion": "1.0.0", "product": "edge", "sbomSha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", "version": "1.1.0"},
    "B": {"health": "empty", "imageSha256": "", "product": "", "version": ""}
  }
}
JSON
seed agent_files watch 1 <<'JSON'
{"action": "wait", "channel": "stable", "error": "", "etag": "\"abc\"", "failed": ["1.1.5"],
 "formatVersion": 1, "lastModified": "Sun, 06 Dec 2026 10:00:00 GMT", "metadataVersion": 7,
 "polled": 1796083200, "reason": "window", "release": "1.2.0",
 "seen": {"stable": {"release": "1.2.0", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "stateVersion": 3, "version": 7}},
 "until": 1796090400, "url": "https://updates.example/channels/stable.json", "wave": "early",
 "why": "outside the maintenance window"}
JSON
seed agent_files config 2 <<'JSON'
{"compatible": "edge-nuc", "health": {"commands": [{"run": "kubectl get nodes", "timeoutSeconds": 30}],
 "timeoutSeconds": 300, "units": ["k3s.service"]}, "keyring": "/etc/edgeforge/keyring",
 "product": "edge", "tries": 3, "version": "1.2.0"}
JSON
seed agent_files registration 3 <<'YAML'
# written by edgeforge from site.yaml
registration:
  endpoint: "https://fleet.example/edge"
  token: "t0k3n"
  deviceId: "serial"
YAML
(cd "$work/out" && ls) >/dev/null
python3 - "$corpus" <<'PY'
import json, sys
mib = 1 << 20
parts, at = [], mib
for i, (name, size) in enumerate([("edgeforge-esp", 64), ("edgeforge-slot-a", 8), ("edgeforge-slot-b", 8),
                                  ("edgeforge-persist", 16)]):
    parts.append({"name": name, "offset": at, "size": size * mib,
                  "guid": f"aaaaaaaa-bbbb-4ccc-8ddd-00000000000{i}",
                  "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" if i == 0 else "0FC63DAF-8483-4772-8E79-3D69D8477DE4"})
    at += size * mib
f = {"path": "/slot-a/vmlinuz", "source": "boot/vmlinuz", "sha256": "b" * 64, "size": 10}
m = {"formatVersion": 1, "bios": [f], "product": "quickstart", "version": "0.1.0", "minVersion": "0.1.0",
     "image": {"file": "edgeforge/rootfs.squashfs", "sha256": "a" * 64, "size": 5 * mib, "sbomSha256": "c" * 64},
     "disk": {"guid": "11111111-2222-4333-8444-555555555555", "size": at + mib, "partitions": parts},
     "esp": {"label": "EFBOOT", "volumeId": "ABCD-1234", "files": [f]}, "siteRegistries": "k3s",
     "persistent": {"label": "edgeforge-data", "uuid": "99999999-2222-4333-8444-555555555555",
                    "hashSeed": "88888888-2222-4333-8444-555555555555"}}
with open(f'{sys.argv[1]}/agent_files/install-json', 'wb') as out:
    out.write(b'\x04' + json.dumps(m, indent=2).encode())
PY

printf '{"auths": {"registry.example:5000": {"auth": "ZWRnZTpzM2NyM3Q="}, "https://other.example": {}}}' |
  seed agent_files docker-config 5

# --- HTTP responses ----------------------------------------------------------
{ printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-5/100\r\nContent-Length: 1\r\n\r\nx'; } | seed http range 0
{ printf 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n0123456789ab'; } | seed http whole 6
{ printf 'HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n#@next#@HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'; } | seed http redirect 1
{ printf 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="http://127.0.0.1:1/token",service="registry",scope="repository:edge/store:pull"\r\nContent-Length: 0\r\n\r\n#@next#@HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"token":"abc.d"}#@next#@HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\r\nETag: "sha256:1"\r\nContent-Length: 2\r\n\r\n{}'; } | seed http bearer 2
{ printf 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="registry"\r\nContent-Length: 0\r\n\r\n#@next#@HTTP/1.1 304 Not Modified\r\nETag: "sha256:0"\r\n\r\n'; } | seed http basic 2
{ printf 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'; } | seed http blob 3
manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.edgeforge.channel.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.edgeforge.channel.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}]}'
{ printf 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s#@next#@HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' ${#manifest} "$manifest"; } | seed http oci-channel 4
head_manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.edgeforge.bundle.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.edgeforge.bundle-head.v1","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}]}'
{ printf 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s#@next#@HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' ${#head_manifest} "$head_manifest"; } | seed http oci-head 5

# --- the fleet service's API ------------------------------------------------
printf %s '{"deviceId":"nuc-0002","publicKey":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA2OJAthwCT8zOt46K7mBmua2KlDfQ0uwYc18RxjSx7h4=\n-----END PUBLIC KEY-----\n","token":"t0k3n"}' |
  seed fleet_api register 0
h=$(printf %064d 0)
cat <<JSON | tr -d '\n' | seed fleet_api report 1
{"booted":"A","bootOrder":"A B","floor":"1.0.0","uptimeSeconds":3600,
"slots":{"A":{"state":"good","product":"edge-node","version":"1.4.2","imageSha256":"$h","bootable":true,"triesLeft":0,"grubOk":true},
"B":{"state":"good","product":"edge-node","version":"1.4.1","imageSha256":"$h","bootable":true,"triesLeft":0,"grubOk":true}},
"lastOperation":{"kind":"upgrade","phase":"failed","slot":"B","version":"1.4.2","bundle":"https://updates.example.com/e.efb","error":"chunk 17: sha256 mismatch"},
"health":{"slot":"A","result":"passed","error":null},
"updates":{"channelUrl":"https://updates.example.com/channels/stable.json","channel":"stable","metadataVersion":42,"release":"1.4.2","wave":"wave-1","action":"wait","reason":"wave","why":"wave-1 opens later","until":null,"polled":"2026-12-01T00:00:00Z","error":null,"failedReleases":["1.4.0"]},
"tags":{"site":"store-7","region":"eu-west"}}
JSON
printf 'GET /api/v1/devices\n' | seed fleet_api op-devices 2
printf 'GET /api/v1/status\n' | seed fleet_api op-status 2
printf 'GET /api/v1/devices/fuzz-0001/reports\n' | seed fleet_api op-reports 2
printf 'POST /api/v1/import\n{"devices":["nuc-0002","nuc-0003"]}' | seed fleet_api op-import 2
printf 'POST /api/v1/tokens\n{"lifetimeSeconds":86400,"singleUse":true,"autoApprove":false}' | seed fleet_api op-token 2
printf 'POST /api/v1/devices/fuzz-0001/approve\n' | seed fleet_api op-approve 2
printf 'GET /api/v1/channels\n' | seed fleet_api op-channels 2
printf 'GET /api/v1/health\n' | seed fleet_api anon-health 3
printf 'GET /\n' | seed fleet_api anon-dashboard 3
printf 'POST /login\nname=ops&password=x' | seed fleet_api anon-login 3

du -sh "$corpus"
