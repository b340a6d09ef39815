#!/usr/bin/env bash
# The daemonless image (scripts/build-image.sh), checked with the tools that consume OCI archives:
#   - skopeo reads the archive: its name (localhost/crashdiag:VERSION, which the Deployment and
#     the sharded StatefulSet run with IfNotPresent), its config (a numeric non-root USER, and the
#     Dockerfile's USER, ENTRYPOINT, CMD and ports), and copies it, which verifies every blob's
#     digest; its docker-archive view (manifest.json, for `docker load`) is the same config under
#     the same name;
#   - umoci unpacks the layers as a container runtime would;
#   - the rootfs holds no shell and no executable but crashdiag and the shared libraries, so
#     nothing in it can need a shell;
#   - crashdiag runs `--version` in that rootfs, as the image's user, with an empty environment
#     (chroot when root, else bwrap), and prints the version the image is named after.
#
# Not registered with ctest (it downloads Debian packages); CI calls it after
# release_build_test.sh with the same build directory, so the release build is reused:
#   tests/ship/image_archive_test.sh [BUILD_DIR]        # builds the archive; BUILD_DIR: build-release/
#   tests/ship/image_archive_test.sh --archive FILE     # checks an archive built before
# Every tool it needs is in scripts/install-deps.sh: a missing one is a failure, not a skip.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

runner=chroot
[ "$(id -u)" = 0 ] || runner=bwrap
for tool in skopeo umoci jq "$runner"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found (scripts/install-deps.sh installs it)"; exit 1; }
done

if [ "${1:-}" = --archive ]; then
  archive=$(realpath -- "${2:?usage: $0 --archive FILE}")
else
  archive=$tmp/crashdiag.oci.tar
  "$src/scripts/build-image.sh" "$archive" "${1:-build-release}"
fi
[ -f "$archive" ] || { echo "FAIL: $archive does not exist"; exit 1; }
echo "archive: $archive ($(du -h "$archive" | cut -f1))"

# --- name and config ---------------------------------------------------------------------------
tar -C "$tmp" -xf "$archive" index.json manifest.json || { echo "FAIL: $archive lacks index.json or manifest.json"; exit 1; }
name=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"] // ""' "$tmp/index.json")
[[ $name =~ ^localhost/crashdiag:[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "index.json names the image '$name', want localhost/crashdiag:VERSION"
[ "$(jq -r '.manifests | length' "$tmp/index.json")" = 1 ] || fail "index.json lists more than one manifest"
cd_name=$(jq -r '.manifests[0].annotations["io.containerd.image.name"] // ""' "$tmp/index.json")
[ "$cd_name" = "$name" ] || fail "io.containerd.image.name is '$cd_name', not '$name'"

# The install runs this name and never pulls it, so a loaded archive is what the pods run.
for f in manifests/deployment.yaml overlays/sharded/statefulset.yaml; do
  image=$(sed -n 's/^ *image: *//p' "$src/$f")
  policy=$(sed -n 's/^ *imagePullPolicy: *//p' "$src/$f")
  [ "$image" = "$name" ] || fail "$f runs the image '$image', the archive is '$name'"
  [ "$policy" = IfNotPresent ] || fail "$f pulls its image '$policy': a loaded image needs IfNotPresent"
done

if ! skopeo inspect --config "oci-archive:$archive" >"$tmp/config.json" 2>"$tmp/err"; then
  echo "FAIL: skopeo cannot read $archive as an OCI archive: $(cat "$tmp/err")"
  exit 1
fi
user=$(jq -r '.config.User // ""' "$tmp/config.json")
uid=${user%%:*}
if ! [[ $uid =~ ^[0-9]+$ ]] || [ "$uid" = 0 ]; then
  fail "the image's user is '$user': not a numeric non-root uid (runAsNonRoot cannot verify it)"
fi
# The Dockerfile's last USER, ENTRYPOINT, CMD and EXPOSE (its runtime stage): both images agree.
last() { sed -n "s/^$1[[:space:]]\{1,\}//p" "$src/Dockerfile" | tail -n 1; }
want_ports=$(last EXPOSE | tr ' ' '\n' | sed '/^$/d; /\//!s|$|/tcp|' | sort | paste -sd' ')
check() {  # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then echo "  $1: $2"; else fail "$1: '$2', want '$3'"; fi
}
check user "$user" "$(last USER)"
check entrypoint "$(jq -c '.config.Entrypoint' "$tmp/config.json")" "$(last ENTRYPOINT | jq -c .)"
check cmd "$(jq -c '.config.Cmd' "$tmp/config.json")" "$(last CMD | jq -c .)"
check ports "$(jq -r '.config.ExposedPorts // {} | keys | join(" ")' "$tmp/config.json")" "$want_ports"

# docker load reads manifest.json: the same config, under the same name.
if skopeo inspect --config "docker-archive:$archive" >"$tmp/docker-config.json" 2>"$tmp/err"; then
  cmp -s <(jq -S . "$tmp/config.json") <(jq -S . "$tmp/docker-config.json") \
    || fail "manifest.json (docker-archive) points at another config than index.json"
else
  fail "skopeo cannot read $archive as a docker archive: $(cat "$tmp/err")"
fi
tags=$(jq -r '.[0].RepoTags | join(" ")' "$tmp/manifest.json")
[ "$tags" = "$name" ] || fail "manifest.json tags the image '$tags', not '$name'"

# --- the rootfs --------------------------------------------------------------------------------
# skopeo copy verifies each blob against its digest; umoci applies the layers in order.
if ! skopeo --insecure-policy copy --quiet "oci-archive:$archive" "oci:$tmp/layout:image" 2>"$tmp/err"; then
  echo "FAIL: skopeo copy oci-archive:$archive: $(cat "$tmp/err")"
  exit 1
fi
rootless=()
[ "$(id -u)" = 0 ] || rootless=(--rootless)
umoci unpack "${rootless[@]}" --image "$tmp/layout:image" "$tmp/bundle" >/dev/null
rootfs=$tmp/bundle/rootfs
echo "rootfs: $(du -sh "$rootfs" | cut -f1), $(find "$rootfs" -type f | wc -l) files"

shells=$(cd "$rootfs" && find . \( -name sh -o -name bash -o -name dash -o -name ash -o -name busybox \) -printf '/%P\n' | paste -sd' ')
[ -z "$shells" ] || fail "the rootfs has a shell: $shells"
# Executables other than shared objects (libc.so.6 and the loader are executable too).
programs=$(cd "$rootfs" && find . -type f -perm /111 ! -name '*.so' ! -name '*.so.*' -printf '/%P\n' | paste -sd' ')
check "executables" "$programs" /usr/local/bin/crashdiag

# --- the binary runs in it ---------------------------------------------------------------------
ids=(65532 65532)
[[ $user =~ ^([0-9]+):([0-9]+)$ ]] && ids=("${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
entry=$(jq -r '.config.Entrypoint[0]' "$tmp/config.json")
if [ "$runner" = chroot ]; then
  run=("$(command -v chroot)" --userspec="${ids[0]}:${ids[1]}" "$rootfs")
else
  run=("$(command -v bwrap)" --unshare-all --uid "${ids[0]}" --gid "${ids[1]}" --ro-bind "$rootfs" /)
fi
if out=$(env -i "${run[@]}" "$entry" --version 2>&1); then
  check "$entry --version ($runner, uid ${ids[0]})" "$out" "crashdiag ${name##*:}"
else
  fail "$entry --version in the rootfs ($runner, uid ${ids[0]}): $out"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures problem(s) in $archive"
  exit 1
fi
echo "image archive: ok ($name)"
