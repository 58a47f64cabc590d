#!/bin/sh
# Install the Debian packages langbench needs.  Idempotent: does nothing
# when they are all present.  Runs apt-get as root, or through sudo.
set -eu
PKGS="build-essential pkg-config libgsl-dev libhdf5-dev hdf5-tools \
libcriterion-dev libconfig-dev librandom123-dev libopenblas-dev gnuplot-nox \
clang libclang-rt-14-dev libomp-14-dev \
libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "langbench: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "langbench: installing needs root or sudo; as root run: apt-get install$missing" >&2
  exit 1
fi
# (sudo resets the environment, hence env; wait for another apt/dpkg run
# instead of failing on its lock)
APT="env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600"
$SUDO $APT update -qq
# shellcheck disable=SC2086
$SUDO $APT install -y -qq --no-install-recommends $missing
