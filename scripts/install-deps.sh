#!/bin/sh
# Install the Debian packages langbench needs.  Idempotent: does nothing
# when they are all present.  Runs apt-get as root, or through sudo.
set -eu
PKGS="build-essential pkg-config libgsl-dev libhdf5-dev hdf5-tools \
libcriterion-dev libconfig-dev librandom123-dev libopenblas-dev gnuplot-nox"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "langbench: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
