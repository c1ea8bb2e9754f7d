#!/usr/bin/env bash
# Checks that no top folder includes a folder above it (ARCHITECTURE.md,
# "Folders and what each may include"). Prints every offending line as
# FILE:LINE: FOLDER may not include "PATH"; exits 1 when there is one.
# Usage: scripts/check-layers.sh [REPO_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# folder -> the folders its files may include (besides its own).
declare -A allowed=(
  [util]=""
  [image]="util"
  [signing]="util image"
  [device]="util image"
  [channel]="util image signing"
  [iso]="util image device"
  [builder]="util image device signing iso"
  [agent]="util image device signing channel"
  [fleet]="util image device signing channel"
  [cli]="util image device signing channel iso builder"
)

status=0

# A new top folder with C++ in it must be placed in the table first.
for dir in */; do
  dir=${dir%/}
  case $dir in tests | fuzz | scripts | cmake | docs | examples | layers | profiles | overlays) continue ;; esac
  [ -e "$dir/CMakeCache.txt" ] && continue          # a build directory
  [ -n "${allowed[$dir]+set}" ] && continue
  if [ -n "$(find "$dir" -name '*.cpp' -o -name '*.hpp' | head -1)" ]; then
    echo "$dir/: a code folder missing from scripts/check-layers.sh; add it to the table and to ARCHITECTURE.md"
    status=1
  fi
done

for folder in "${!allowed[@]}"; do
  [ -d "$folder" ] || continue
  while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    [[ ${rest#*:} =~ \#include\ \"([^\"]+)\" ]] || continue
    path=${BASH_REMATCH[1]}
    top=${path%%/*}
    [ "$top" = "$path" ] && continue                # "x.hpp": same folder
    [ "$top" = "$folder" ] && continue
    [ -d "$top" ] || continue                       # generated or third-party
    case " ${allowed[$folder]} " in *" $top "*) continue ;; esac
    echo "$file:$line: $folder/ may not include \"$path\" ($folder/ may include: ${allowed[$folder]:-nothing outside itself})"
    status=1
  done < <(grep -rnE '^#include "' "$folder" --include='*.cpp' --include='*.hpp' --include='*.in' || true)
done
exit $status
