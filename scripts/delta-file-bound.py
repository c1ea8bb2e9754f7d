#!/usr/bin/env python3
"""What any file-level delta could save between two root filesystems.

A measurement for docs/benchmarks.md (issue 13), not a test. Given the
rootfs tarballs of two releases, it counts what a device on OLD would have
to download for NEW if every file NEW has were sent as cheaply as a file can
be: nothing when OLD has a file with the same bytes (anywhere), else a
`zstd -15 --patch-from=OLD_FILE` patch when OLD has a counterpart (the same
path, or the same path with OLD's kernel ABI in place of NEW's), else the
file itself at zstd -15. Metadata (inode and directory tables) is left out,
so the total is a lower bound for file-level deltas.

Usage: scripts/delta-file-bound.py OLD.tar NEW.tar WORKDIR
Needs: tar, zstd. Prints one line per group (kernel modules, initrd,
kernel image, the rest) and the total.
"""
import collections
import hashlib
import os
import subprocess
import sys


def files(root):
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield os.path.relpath(p, root)


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def zstd_size(path, extra=()):
    r = subprocess.run(["zstd", "-15", "-q", "-c", *extra, path], capture_output=True)
    return len(r.stdout) if r.returncode == 0 else None


def extract(tarball, into):
    if not os.path.isdir(into):
        os.makedirs(into + ".tmp", exist_ok=True)
        subprocess.run(["tar", "-xf", tarball, "-C", into + ".tmp", "--numeric-owner"],
                       stderr=subprocess.DEVNULL)
        os.rename(into + ".tmp", into)
    return into


def kernel_abi(root):
    modules = os.path.join(root, "usr/lib/modules")
    names = sorted(os.listdir(modules)) if os.path.isdir(modules) else []
    return names[0] if names else None


def group(path):
    if path.startswith("usr/lib/modules/"):
        return "kernel modules"
    if path.startswith("boot/initrd"):
        return "initrd"
    if path.startswith("boot/vmlinuz"):
        return "kernel image"
    return "the rest"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    old_tar, new_tar, work = sys.argv[1:]
    old = extract(old_tar, os.path.join(work, "old"))
    new = extract(new_tar, os.path.join(work, "new"))
    abi_old, abi_new = kernel_abi(old), kernel_abi(new)
    have = {digest(os.path.join(old, p)) for p in files(old)}
    totals = collections.defaultdict(lambda: [0, 0, 0, 0])  # files, raw, zstd, download
    for p in files(new):
        path = os.path.join(new, p)
        if digest(path) in have:
            continue
        own = zstd_size(path) or os.path.getsize(path)
        counterpart = os.path.join(old, p)
        if not os.path.isfile(counterpart) and abi_old and abi_new:
            counterpart = os.path.join(old, p.replace(abi_new, abi_old))
        cost = own
        if os.path.isfile(counterpart):
            cost = min(own, zstd_size(path, ["--patch-from=" + counterpart]) or own)
        t = totals[group(p)]
        t[0] += 1
        t[1] += os.path.getsize(path)
        t[2] += own
        t[3] += cost
    mib = 1 << 20
    print(f"kernel ABI: {abi_old} -> {abi_new}")
    for name, t in sorted(totals.items()):
        print(f"{name}: {t[0]} files not in OLD, {t[1] / mib:.1f} MiB, {t[2] / mib:.1f} MiB at "
              f"zstd -15, {t[3] / mib:.1f} MiB as patches (or zstd -15 where none is smaller)")
    print(f"total: {sum(t[3] for t in totals.values()) / mib:.1f} MiB")


if __name__ == "__main__":
    main()
