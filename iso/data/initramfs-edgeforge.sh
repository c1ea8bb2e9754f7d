# edgeforge root mounting for initramfs-tools: sourced by /init as
# /scripts/edgeforge when the kernel command line says boot=edgeforge.
# Layout and persistent paths: docs/disk-layout.md. Kernel arguments:
#   edgeforge.slot=A|B      which slot's squashfs becomes /
#   edgeforge.live=LABEL    live system from the ISO with volume label LABEL:
#                           / is its /edgeforge/rootfs.squashfs, upper
#                           layers on tmpfs (no persistent partition)
#   edgeforge.install=1     set by the installer menu (the agent acts on it)
#   edgeforge.verity=ROOT_HASH with .salt=, .blocks=, .offset=: verified boot
#                           (the signed kernel image's command line): / is the
#                           slot mapped through dm-verity; the slot is the one
#                           systemd-boot's entry (LoaderEntrySelected) names
#   edgeforge.persist=tpm2|tpm2-or-plain  (verified boot) the persistent
#                           partition is LUKS2, its key sealed to the TPM
#                           (made so at first boot); tpm2-or-plain: a
#                           device without a TPM keeps it unencrypted

EF_MODULES=/edgeforge/modules
EF_RUN=/run/edgeforge

ef_log() { echo "edgeforge: $*" > /dev/console 2>/dev/null || echo "edgeforge: $*"; }
ef_fail() { ef_log "$*"; panic "edgeforge: $*"; }

ef_load_modules() {
  # The stock initrd lacks squashfs and overlay: the builder adds them in
  # load order (dependencies first). A module that is built in or already
  # loaded makes insmod fail harmlessly.
  [ -f "$EF_MODULES/order" ] || return 0
  while read -r ko; do
    [ -n "$ko" ] && insmod "$EF_MODULES/$ko" 2>/dev/null
  done < "$EF_MODULES/order"
}

ef_wait_for() {
  # Waits up to 30 s for the block device $1 (udev creates by-partlabel links).
  n=0
  while [ ! -e "$1" ] && [ "$n" -lt 300 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  [ -e "$1" ]
}

ef_cmdline() {
  EF_SLOT=""; EF_LIVE=""; EF_VERITY=""; EF_VERITY_SALT=""; EF_VERITY_BLOCKS=""; EF_VERITY_OFFSET=""
  EF_PERSIST=""
  for arg in $(cat /proc/cmdline); do
    case "$arg" in
      edgeforge.slot=*) EF_SLOT="${arg#edgeforge.slot=}" ;;
      edgeforge.live=*) EF_LIVE="${arg#edgeforge.live=}" ;;
      edgeforge.verity=*) EF_VERITY="${arg#edgeforge.verity=}" ;;
      edgeforge.verity.salt=*) EF_VERITY_SALT="${arg#edgeforge.verity.salt=}" ;;
      edgeforge.verity.blocks=*) EF_VERITY_BLOCKS="${arg#edgeforge.verity.blocks=}" ;;
      edgeforge.verity.offset=*) EF_VERITY_OFFSET="${arg#edgeforge.verity.offset=}" ;;
      edgeforge.persist=*) EF_PERSIST="${arg#edgeforge.persist=}" ;;
    esac
  done
}

EF_LOADER_ENTRY=/sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f

ef_loader_slot() {
  # The slot of the boot entry systemd-boot started. Only code that ran
  # before the kernel (and so passed Secure Boot) can set this variable.
  # (No ls or od here: the initramfs may have klibc's tools only.) Mounting
  # efivarfs where it is mounted already fails harmlessly.
  mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  /edgeforge/bin/verity-open loader-slot "$EF_LOADER_ENTRY" 2>/run/edgeforge-loader-slot.err
}

ef_verity_root() {
  # Maps the slot $1 read-only through dm-verity with the root hash from the
  # signed command line and prints the new device; a block that does not
  # match panics the kernel, so the device reboots and systemd-boot's tries
  # take it to the other slot.
  /edgeforge/bin/verity-open map edgeforge-root "$1" "$EF_VERITY" "$EF_VERITY_SALT" \
    "$EF_VERITY_BLOCKS" "$EF_VERITY_OFFSET"
}

ef_live_device() {
  # Mounts the medium labelled $EF_LIVE and attaches its image to a loop device.
  modprobe -q isofs 2>/dev/null; modprobe -q loop 2>/dev/null
  # udev may not label CD drives in the initramfs: ask blkid as well.
  n=0; medium=""
  while [ -z "$medium" ] && [ "$n" -lt 300 ]; do
    if [ -e "/dev/disk/by-label/$EF_LIVE" ]; then medium="/dev/disk/by-label/$EF_LIVE"
    else medium=$(blkid -l -o device -t "LABEL=$EF_LIVE" 2>/dev/null); fi
    [ -n "$medium" ] || sleep 0.1
    n=$((n + 1))
  done
  [ -n "$medium" ] || ef_fail "boot medium labelled $EF_LIVE did not appear"
  mkdir -p "$EF_RUN/medium"
  mount -t iso9660 -o ro "$medium" "$EF_RUN/medium" || ef_fail "cannot mount $medium"
  img="$EF_RUN/medium/edgeforge/rootfs.squashfs"
  # The initrd's losetup may be klibc's: no --show, no -r (the medium is
  # read-only anyway).
  loopdev=$(losetup -f) && losetup "$loopdev" "$img" >/dev/null 2>&1 ||
    loopdev=$(losetup -f --show -r "$img") || ef_fail "cannot attach the live image $img"
  echo "$loopdev"
}

ef_root_device() {
  if [ -n "$EF_LIVE" ]; then ef_live_device; return; fi
  case "$EF_SLOT" in
    A) echo /dev/disk/by-partlabel/edgeforge-slot-a ;;
    B) echo /dev/disk/by-partlabel/edgeforge-slot-b ;;
    *) echo "" ;;
  esac
}

ef_in_root() {
  # Runs a program of the verified root (mounted at $rootmnt, read-only),
  # chrooted, with this initramfs's /dev, /proc, /sys and /run: cryptsetup,
  # systemd-cryptenroll, blkid and mke2fs come from the signed image, not
  # from here. libdevmapper makes its own device nodes (no udev rules here).
  DM_DISABLE_UDEV=1 chroot "${rootmnt}" "$@"
}

ef_root_binds() {
  # $1: mount or umount the bind mounts ef_in_root needs.
  for d in dev proc sys run; do
    if [ "$1" = mount ]; then
      mount -o bind "/$d" "${rootmnt}/$d" || ef_fail "cannot bind-mount /$d into the root"
    else
      umount "${rootmnt}/$d" 2>/dev/null
    fi
  done
}

ef_have_tpm() {
  # The kernel's TPM 2.0 resource manager; the drivers are built in, so it
  # is there by now or (after 3 s) not at all.
  n=0
  while [ ! -e /dev/tpmrm0 ] && [ "$n" -lt 30 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  [ -e /dev/tpmrm0 ]
}

ef_seal_new() {
  # First boot: LUKS2 on the blank partition $1 with a random one-time key,
  # replaced by a key sealed to this TPM and bound to the Secure Boot state
  # (PCR 7); then the one-time key's slot is wiped. A cut power leaves a
  # LUKS2 header without a TPM token, which the next boot starts over.
  ef_in_root /bin/sh -euc '
    umask 077
    key=/run/edgeforge-persist.key
    trap "rm -f $key" EXIT
    head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n" > "$key"
    cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 \
      --pbkdf-force-iterations 1000 --key-file "$key" "$1"
    PASSWORD=$(cat "$key") systemd-cryptenroll --tpm2-device=auto --tpm2-pcrs=7 \
      --wipe-slot=0 "$1"
  ' sh "$1"
}

ef_last_line() {
  # The last line of file $1 (no tail here).
  last=""
  while IFS= read -r line; do last=$line; done < "$1"
  echo "$last"
}

ef_fail_sealed() {
  ef_root_binds umount
  ef_fail "$*"
}

ef_make_ext4() {
  ef_in_root mke2fs -q -t ext4 -L edgeforge-data "$1" >/dev/null 2>&1 ||
    ef_fail_sealed "cannot make the persistent ext4 on $1"
}

ef_open_sealed() {
  # Verified boot: the persistent partition $1 as LUKS2 unlocked by the TPM
  # (no prompt, no passphrase), made so on first boot. Never formats a
  # partition that holds anything but a blank or a half-made LUKS2 header.
  # Sets EF_PERSIST_DEV to the device to mount ($1 itself when the profile
  # allows a plain one).
  EF_PERSIST_DEV=$1
  ef_root_binds mount
  # blkid -p: 0 found a signature, 2 found none (blank); anything else is
  # not an answer, and a partition is formatted only on a sure "blank".
  type=$(ef_in_root blkid -p -o value -s TYPE "$1" 2>/dev/null)
  rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 2 ] ||
    ef_fail_sealed "cannot probe the persistent partition $1 (blkid exit status $rc)"
  if [ "$type" = crypto_LUKS ]; then
    ef_in_root cryptsetup luksDump "$1" > /run/edgeforge-luks.txt 2>&1 ||
      ef_fail_sealed "cannot read the persistent partition's LUKS2 header: $(ef_last_line /run/edgeforge-luks.txt)"
    if ! ef_in_root grep -q systemd-tpm2 /run/edgeforge-luks.txt; then
      ef_log "the persistent partition has a LUKS2 header without a TPM key (first boot cut short): starting over"
      type=""
    fi
  fi
  case "$type" in
    crypto_LUKS)
      ef_have_tpm ||
        ef_fail_sealed "the persistent partition is sealed to a TPM 2.0 and this device has none (no /dev/tpmrm0): turn the TPM on in the firmware"
      ;;
    "")
      if ! ef_have_tpm; then
        [ "$EF_PERSIST" = tpm2-or-plain ] ||
          ef_fail_sealed "no TPM 2.0 (no /dev/tpmrm0): this image keeps the persistent partition only sealed to a TPM (spec.secureBoot.withoutTpm: refuse); turn the TPM on in the firmware"
        ef_log "WARNING: no TPM 2.0: the persistent partition stays unencrypted (spec.secureBoot.withoutTpm: unencrypted)"
        ef_make_ext4 "$1"
        ef_root_binds umount
        return 0
      fi
      ef_log "first boot: sealing the persistent partition to this TPM (LUKS2, PCR 7)"
      ef_seal_new "$1" > /run/edgeforge-seal.log 2>&1 ||
        ef_fail_sealed "sealing the persistent partition failed: $(ef_last_line /run/edgeforge-seal.log)"
      ;;
    ext4)
      [ "$EF_PERSIST" = tpm2-or-plain ] ||
        ef_fail_sealed "the persistent partition holds an unencrypted ext4: this image mounts it only as LUKS2 sealed to the TPM; wipe it (wipefs -a) to start over"
      ef_log "WARNING: the persistent partition is unencrypted (spec.secureBoot.withoutTpm: unencrypted)"
      ef_root_binds umount
      return 0
      ;;
    *)
      ef_fail_sealed "the persistent partition holds $type, not LUKS2: wipe it (wipefs -a) to start over"
      ;;
  esac
  ef_in_root cryptsetup open --type luks2 --token-only "$1" edgeforge-persist \
    > /run/edgeforge-unseal.log 2>&1 ||
    ef_fail_sealed "the persistent partition did not unlock with this device's TPM (sealed to another TPM, or the Secure Boot state in PCR 7 changed; cryptsetup: $(ef_last_line /run/edgeforge-unseal.log)); its data is kept; see docs/verified-boot.md"
  EF_PERSIST_DEV=/dev/mapper/edgeforge-persist
  [ -n "$(ef_in_root blkid -p -o value -s TYPE "$EF_PERSIST_DEV" 2>/dev/null)" ] ||
    ef_make_ext4 "$EF_PERSIST_DEV"
  ef_root_binds umount
  ef_log "persistent partition: LUKS2 unlocked by the TPM ($EF_PERSIST_DEV)"
}

ef_mount_persistent() {
  mkdir -p "$EF_RUN/persist"
  if [ -z "$EF_LIVE" ]; then
    dev=/dev/disk/by-partlabel/edgeforge-persist
    ef_wait_for "$dev" || ef_fail "persistent partition $dev did not appear"
    if [ -n "$EF_VERITY" ]; then
      ef_open_sealed "$dev"
      dev=$EF_PERSIST_DEV
    fi
    mount -t ext4 -o rw,noatime "$dev" "$EF_RUN/persist" || ef_fail "cannot mount $dev"
  else
    mount -t tmpfs -o mode=0755 tmpfs "$EF_RUN/persist" || ef_fail "cannot mount tmpfs"
  fi
}

ef_overlay() {
  # Gives $1 (a directory of the read-only root) a writable upper layer kept
  # on the persistent partition.
  up="$EF_RUN/persist/overlay$1"
  mkdir -p "$up/upper" "$up/work"
  mount -t overlay -o "lowerdir=${rootmnt}$1,upperdir=$up/upper,workdir=$up/work" overlay \
    "${rootmnt}$1" || ef_fail "cannot mount the overlay on $1"
}

ef_bind_state() {
  # Bind-mounts a plain ext4 directory for state that must not sit on
  # overlayfs (containerd's overlay snapshots cannot nest in an overlay).
  src="$EF_RUN/persist/state$1"
  mkdir -p "$src"
  if [ ! -d "${rootmnt}$1" ]; then
    mkdir -p "${rootmnt}$1" 2>/dev/null || { ef_log "skipping $1: not under a writable path"; return; }
  fi
  mount -o bind "$src" "${rootmnt}$1" || ef_fail "cannot bind-mount $1"
}

mount_top() { :; }
mount_premount() { :; }
mount_bottom() { :; }

mountroot() {
  ef_cmdline
  ef_load_modules
  if [ -n "$EF_VERITY" ]; then
    EF_SLOT=$(ef_loader_slot)
    [ -n "$EF_SLOT" ] || ef_fail "verified boot: $(cat /run/edgeforge-loader-slot.err)"
  fi
  dev=$(ef_root_device)
  [ -n "$dev" ] || ef_fail "no edgeforge.slot= or edgeforge.root= on the kernel command line"
  ef_wait_for "$dev" || ef_fail "root image $dev did not appear"
  if [ -n "$EF_VERITY" ]; then
    part=$dev
    dev=$(ef_verity_root "$part") || ef_fail "dm-verity refused slot $EF_SLOT ($part)"
    ef_wait_for "$dev" || ef_fail "dm-verity device $dev did not appear"
  fi
  mount -t squashfs -o ro "$dev" "${rootmnt}" || ef_fail "cannot mount squashfs $dev"
  ef_log "${EF_LIVE:+live }slot ${EF_SLOT:-none}: / is squashfs $dev${EF_VERITY:+ (dm-verity over $part, root hash $EF_VERITY)} (read-only)"
  mkdir -p "$EF_RUN"
  [ -z "$EF_SLOT" ] || echo "$EF_SLOT" > "$EF_RUN/booted-slot"
  ef_mount_persistent
  for d in /etc /var; do ef_overlay "$d"; done
  if [ -f /edgeforge/persistent-paths ]; then
    while read -r p; do
      case "$p" in /*) ef_bind_state "$p" ;; esac
    done < /edgeforge/persistent-paths
  fi
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "${rootmnt}/tmp" || ef_fail "cannot mount /tmp"
}
