#!/usr/bin/env bash
# Prints the Debian packages the Dockerfile's runtime stage installs, one per line. The list lives
# in the Dockerfile only; scripts/build-image.sh installs the same packages into its rootfs and
# tests/ship/dockerfile_libs_test.sh checks them against the binary's libraries, both through
# this script, so the two images cannot drift apart.
#
#   scripts/runtime-packages.sh [DOCKERFILE]     # DOCKERFILE defaults to the repository's
#
# Only the stage after the last FROM counts. Continuation lines are joined and comment lines
# inside an instruction dropped, as Docker's parser does; every word after `apt-get install` (or
# `apt install`) that is not an option is a package (`pkg=version` pins a version: the name is
# printed). Exits 1 when the file has no FROM.
set -euo pipefail

dockerfile=${1:-$(dirname "$0")/../Dockerfile}
[ -f "$dockerfile" ] || { echo "runtime-packages: $dockerfile does not exist" >&2; exit 1; }

mapfile -t instructions < <(awk '
  BEGIN { cur = "" }
  /^[ \t]*#/ { next }
  {
    line = $0
    sub(/\r$/, "", line)
    if (line ~ /\\[ \t]*$/) { sub(/\\[ \t]*$/, " ", line); cur = cur line; next }
    cur = cur line
    if (cur ~ /[^ \t]/) print cur
    cur = ""
  }
  END { if (cur ~ /[^ \t]/) print cur }
' "$dockerfile")
last_from=-1
for i in "${!instructions[@]}"; do
  if [[ ${instructions[$i]} =~ ^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]] ]]; then last_from=$i; fi
done
[ "$last_from" -ge 0 ] || { echo "runtime-packages: $dockerfile has no FROM" >&2; exit 1; }

for ((i = last_from + 1; i < ${#instructions[@]}; i++)); do
  ins=${instructions[$i]}
  [[ $ins =~ ^[[:space:]]*[Rr][Uu][Nn][[:space:]] ]] || continue
  # Split the shell command into simple commands at && || ; | and read the words of each.
  cmds=$(sed -E 's/^[[:space:]]*[Rr][Uu][Nn][[:space:]]+//; s/(&&|\|\||;|\|)/\n/g' <<<"$ins")
  while IFS= read -r cmd; do
    read -r -a words <<<"$cmd"
    seen_apt=0
    seen_install=0
    for w in ${words[@]+"${words[@]}"}; do
      if [ "$seen_install" = 1 ]; then
        case $w in
          -*) ;;
          *) echo "${w%%=*}" ;;
        esac
      elif [ "$seen_apt" = 1 ] && [ "$w" = install ]; then
        seen_install=1
      elif [ "$w" = apt-get ] || [ "$w" = apt ]; then
        seen_apt=1
      fi
    done
  done <<<"$cmds"
done
