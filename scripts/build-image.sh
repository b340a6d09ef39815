#!/usr/bin/env bash
# Builds crashdiag's runtime image without a Docker daemon or a registry, as an OCI archive (a tar
# of an OCI image layout) named localhost/crashdiag:VERSION, for `ctr images import`, `podman load`,
# `kind load image-archive`, `minikube image load` (manifests/README.md shows each).
#
#   scripts/build-image.sh [ARCHIVE [BUILD_DIR]]
#
# ARCHIVE defaults to build-image/crashdiag-VERSION.oci.tar; BUILD_DIR is scripts/build-release.sh's
# (default build-release/, so a release build already there is reused). The image is the
# Dockerfile's runtime stage without its base image: the binary of the same release build, the
# Debian packages that stage installs (scripts/runtime-packages.sh reads them from the Dockerfile)
# with their dependencies and nothing else, the same USER, ENTRYPOINT, CMD and ports.
# MIRROR overrides mmdebstrap's Debian mirror. SOURCE_DATE_EPOCH (default: the last commit's time)
# fixes every timestamp: the same commit and mirror contents give the same archive.
# Needs mmdebstrap, umoci and jq (scripts/install-deps.sh installs them), and no privileges.
# tests/ship/image_archive_test.sh checks the result.
set -euo pipefail

if [ $# -gt 2 ]; then
  echo "usage: $0 [ARCHIVE [BUILD_DIR]]" >&2
  exit 2
fi
archive=${1:+$(realpath -m -- "$1")}  # relative to the caller's directory, before the cd below
cd "$(dirname "$0")/.."
build_dir=${2:-build-release}

for tool in mmdebstrap mmtarfilter umoci jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-image: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
# The binary links this machine's libraries; the rootfs gets the same Debian release's packages.
suite=bookworm  # the Dockerfile's (debian:bookworm, debian:bookworm-slim)
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
if [ "$codename" != "$suite" ]; then
  echo "build-image: this machine runs ${codename:-an unknown release}, not Debian $suite: the binary would not match the image's libraries" >&2
  exit 1
fi
packages=$(scripts/runtime-packages.sh Dockerfile)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

scripts/build-release.sh "$tmp/dest" "$build_dir"
version=$("$tmp/dest/usr/local/bin/crashdiag" --version | sed -n 's/^crashdiag //p')
[ -n "$version" ] || { echo "build-image: crashdiag --version printed no version" >&2; exit 1; }
archive=${archive:-$PWD/build-image/crashdiag-$version.oci.tar}
name=localhost/crashdiag:$version
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# Layer 1, the libraries. --variant=extract unpacks the packages and their dependencies (libc6,
# libstdc++6, ...) without installing them: no maintainer script runs, so the image needs neither
# dpkg nor a shell, and has neither (no Essential set, no apt, no /bin/sh). Shared libraries need
# no configuring: the loader searches the multiarch directories without an ld.so.cache. As nothing
# runs inside the rootfs, --mode=chrootless: no chroot, no mounts, no root or subuids needed (its
# warning when run as root is about maintainer scripts, which extract never runs). The hook
# removes what mmdebstrap put there to run apt, and the host's hostname and resolv.conf (the
# kubelet mounts its own); mmtarfilter drops the device nodes (the runtime mounts /dev).
# mmdebstrap sorts the tar and clamps its times to SOURCE_DATE_EPOCH.
# shellcheck disable=SC2016  # "$1" is the hook's argument, the rootfs: mmdebstrap's sh expands it
mmdebstrap --mode=chrootless --variant=extract --skip=cleanup --include="$(paste -sd, <<<"$packages")" \
  --extract-hook='rm -rf "$1"/etc/apt "$1"/etc/dpkg "$1"/etc/fstab "$1"/etc/hostname "$1"/etc/resolv.conf "$1"/var/cache/apt "$1"/var/lib/apt "$1"/var/lib/dpkg "$1"/var/log/apt "$1"/tmp/mmdebstrap.*' \
  "$suite" - ${MIRROR:+"$MIRROR"} | mmtarfilter --path-exclude='/dev/*' >"$tmp/libs.tar"

# Layer 2, the binary, as in the Dockerfile (a new build changes only this layer). ustar: no pax
# headers with access times; --mode: readable by the image's non-root user whatever the umask;
# ./usr, not . (mktemp's 0700 would become the image's /).
tar -C "$tmp/dest" --sort=name --format=ustar --owner=0 --group=0 --numeric-owner \
  --mtime="@$SOURCE_DATE_EPOCH" --mode=u=rwX,go=rX -cf "$tmp/bin.tar" ./usr

layout=$tmp/oci
umoci init --layout "$layout"
umoci new --image "$layout:crashdiag"
umoci raw add-layer --image "$layout:crashdiag" --history.created "$created" \
  --history.created_by "mmdebstrap --variant=extract $suite $(paste -sd' ' <<<"$packages")" "$tmp/libs.tar"
umoci raw add-layer --image "$layout:crashdiag" --history.created "$created" \
  --history.created_by "scripts/build-release.sh: /usr/local/bin/crashdiag" "$tmp/bin.tar"
# 65532 is the conventional "nonroot" uid/gid, numeric so that runAsNonRoot can verify it
# (the Deployment's securityContext asks for the same). PATH as in Debian's images.
umoci config --image "$layout:crashdiag" --no-history --created "$created" \
  --config.user 65532:65532 \
  --config.entrypoint /usr/local/bin/crashdiag --config.cmd run \
  --config.exposedports 8080/tcp --config.exposedports 8081/tcp \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.label org.opencontainers.image.title=crashdiag \
  --config.label org.opencontainers.image.version="$version"
umoci gc --layout "$layout"  # each umoci step above left its superseded manifest and config

# The name: ctr and podman read it from the index (ctr prefers containerd's own annotation); a
# bare tag such as umoci writes would make ctr invent one ("import-DATE:TAG"). manifest.json is
# the index `docker load` reads (minikube's default docker runtime loads archives with it), and
# points at the same blobs, as in the archives `docker save` and BuildKit write.
jq -c --arg name "$name" '.manifests[0].annotations = {
    "io.containerd.image.name": $name, "org.opencontainers.image.ref.name": $name}' \
  "$layout/index.json" >"$tmp/index.json"
mv "$tmp/index.json" "$layout/index.json"
manifest=$layout/blobs/$(jq -r '.manifests[0].digest | sub(":"; "/")' "$layout/index.json")
jq -c --arg name "$name" '[{Config: ("blobs/" + (.config.digest | sub(":"; "/"))),
    RepoTags: [$name], Layers: [.layers[].digest | "blobs/" + sub(":"; "/")]}]' \
  "$manifest" >"$layout/manifest.json"

mkdir -p "$(dirname "$archive")"
tar -C "$layout" --sort=name --format=ustar --owner=0 --group=0 --numeric-owner \
  --mtime="@$SOURCE_DATE_EPOCH" --mode=u=rwX,go=rX -cf "$archive.tmp" oci-layout index.json manifest.json blobs
mv "$archive.tmp" "$archive"
echo "build-image: $archive ($(du -h "$archive" | cut -f1)): $name, manifest $(jq -r '.manifests[0].digest' "$layout/index.json")"
