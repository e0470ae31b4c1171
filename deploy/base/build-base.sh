#!/bin/sh
# The default base image, built from Debian's own packages (no container registry needed):
# a bookworm root filesystem made by debootstrap, with Python 3.11 and venv, imported as
# $BASE_TAG. Built once: when the tag exists it is reused (delete it to rebuild,
# e.g. for Debian's security updates). Needs root (debootstrap) and the Docker engine.
set -eu

BASE_TAG=${BASE_TAG:-pco-pipeline-base:bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    echo "base image $BASE_TAG: cached (docker rmi $BASE_TAG to rebuild)"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "error: debootstrap is not installed (apt-get install debootstrap), or pass BASE_IMAGE=python:3.11-slim-bookworm" >&2
    exit 2
}

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR"
# Security updates as well as the release: the images built on this base run apt-get against both.
echo "deb $DEBIAN_MIRROR bookworm-updates main" >>"$rootfs/etc/apt/sources.list"
echo "deb http://deb.debian.org/debian-security bookworm-security main" >>"$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_TAG"
echo "base image $BASE_TAG: built from $DEBIAN_MIRROR"
