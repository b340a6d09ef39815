#!/usr/bin/env bash
# The container image's runtime stage installs exactly the libraries the binary needs: every
# shared library `ldd` resolves must come from a Debian package that the last stage's
# `apt-get install` lists or that the base image already holds, and every package it installs
# must provide one of them (nothing extra in the image).
#
#   dockerfile_libs_test.sh BINARY DOCKERFILE
#
# `dpkg -S` answers for this machine, so run it on the Debian release of the runtime stage
# (bookworm: the build stage and CI both are) against a binary built here. A sanitizer build links
# libasan/libubsan, which the image never ships: tests/ship/install.cmake does not register this
# test then. Exit 77 without ldd or dpkg: a failure in CTest, since install-deps.sh installs it.
set -euo pipefail

bin=$1
dockerfile=$2
for tool in ldd dpkg; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: skipped"
    exit 77
  fi
done
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
[ -f "$dockerfile" ] || { echo "FAIL: $dockerfile does not exist"; exit 1; }

# Packages debian:bookworm-slim already contains. Each claim must hold for the base image, not
# just for this machine; all three are direct dependencies of apt (`apt-cache depends apt`),
# which is Priority: required and therefore in every Debian image:
#   libc6       libc.so.6, libm.so.6 and the loader ld-linux-x86-64.so.2
#   libgcc-s1   libgcc_s.so.1
#   libstdc++6  libstdc++.so.6 (apt is written in C++)
base_packages=(libc6 libgcc-s1 libstdc++6)

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# --- the runtime stage's apt-get install list -------------------------------------------------
# Parsed by the script scripts/build-image.sh uses too, so both images install what is checked here.
if ! listed=$("$(dirname "$0")/../../scripts/runtime-packages.sh" "$dockerfile"); then
  echo "FAIL: cannot read the runtime stage's packages from $dockerfile"
  exit 1
fi
installed=()
[ -z "$listed" ] || mapfile -t installed <<<"$listed"
echo "runtime stage installs: ${installed[*]:-(nothing)}"

# --- the libraries the binary resolves, as packages -------------------------------------------
# dpkg records each file under the path its package ships it at; with merged /usr the loader
# reports /lib/... for files shipped as /usr/lib/... and the other way round, so try both
# spellings of the reported path and of its resolved target.
package_of() {
  local path=$1 real candidates c out
  real=$(readlink -f "$path" 2>/dev/null || echo "$path")
  candidates=("$path" "$real")
  for c in "$path" "$real"; do
    case $c in
      /usr/*) candidates+=("${c#/usr}") ;;
      *) candidates+=("/usr$c") ;;
    esac
  done
  for c in "${candidates[@]}"; do
    # "pkg:arch[, pkg2:arch]: /path"; diversion lines ("diversion by ...") are not owners.
    out=$(dpkg -S "$c" 2>/dev/null | awk -v p="$c" '!/^diversion / && substr($0, length($0) - length(p) - 1) == ": " p' |
      head -n 1 || true)
    if [ -n "$out" ]; then
      sed -E 's/: \/.*$//; s/:[a-z0-9_-]+(,|$)/\1/g; s/, /\n/g' <<<"$out"
      return 0
    fi
  done
  return 1
}

ldd_out=$(ldd "$bin" 2>&1) || true
if grep -q 'not a dynamic executable' <<<"$ldd_out"; then
  echo "$bin is statically linked"
  ldd_out=""
fi
while IFS= read -r missing; do
  fail "ldd $bin: $missing => not found (the binary needs it and this machine cannot resolve it)"
done < <(sed -nE 's/^[[:space:]]*([^ ]+) => not found.*/\1/p' <<<"$ldd_out")

declare -A needed=()  # package -> the libraries it provides
while IFS= read -r line; do
  # "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)";
  # linux-vdso has no file.
  path=$(sed -nE 's/^[[:space:]]*[^ ]+ => (\/[^ ]+) \(0x[0-9a-f]+\)$/\1/p; s/^[[:space:]]*(\/[^ ]+) \(0x[0-9a-f]+\)$/\1/p' <<<"$line")
  [ -n "$path" ] || continue
  lib=$(basename "$path")
  if ! pkgs=$(package_of "$path"); then
    fail "$lib ($path) belongs to no Debian package: it cannot be installed in the image"
    continue
  fi
  first=""
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    [ -n "$first" ] || first=$p
    needed[$p]="${needed[$p]:-}${needed[$p]:+ }$lib"
  done <<<"$pkgs"
  found=0
  while IFS= read -r p; do
    for q in "${installed[@]}" "${base_packages[@]}"; do
      [ "$p" = "$q" ] && found=1
    done
  done <<<"$pkgs"
  if [ "$found" = 1 ]; then
    echo "  $lib <- $(tr '\n' ' ' <<<"$pkgs")"
  else
    fail "$lib ($path) comes from the package $first, which the runtime stage of $dockerfile does not install (add it to its apt-get install)"
  fi
done <<<"$ldd_out"

for p in ${installed[@]+"${installed[@]}"}; do
  if [ -z "${needed[$p]:-}" ]; then
    fail "the runtime stage installs $p, but the binary loads no library from it (remove it)"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "$failures problem(s); ldd $bin:"
  echo "$ldd_out"
  exit 1
fi
echo "dockerfile libs: ${#needed[@]} packages provide every library of $bin"
