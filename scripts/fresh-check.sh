#!/bin/sh
# fresh-check.sh -- the README's two commands, the first time, on a bare
# Debian 12 machine.  Part of langbench.  GPL-3.0-or-later.
#
# usage: scripts/fresh-check.sh [run-first|test-first]      (as root)
#
# Builds a minimal Debian 12 root with debootstrap (variant minbase plus
# git, make, ca-certificates and sudo: what a new user starts from; cached
# in $FRESH_CACHE, default ~/.cache/langbench-fresh), copies it, clones the
# repository's committed HEAD into it, and in a chroot, as an unprivileged
# user `lb` with passwordless sudo (the README's non-root path) and with no
# locale set (env -i), runs `make run` then `make test` (or the other way
# round with test-first).  Prints one line with both exit statuses, their
# times and the test count; exit status 0 only if both succeeded on their
# first run.  Logs: $FRESH_CACHE/last-make-run.log, last-make-test.log.
#
# A contributor's tool, not part of `make test`: it takes several minutes
# (the packages are downloaded into the new root every time, as a new user
# would).  Environment: FRESH_CACHE, FRESH_MIRROR (default
# http://deb.debian.org/debian), FRESH_KEEP=1 keeps the root for a look.
set -eu

order=${1:-run-first}
case $order in run-first|test-first) ;; *)
    echo "usage: $0 [run-first|test-first]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)
rev=$(git -C "$repo" rev-parse --short HEAD)
cache=${FRESH_CACHE:-$HOME/.cache/langbench-fresh}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
base=$cache/bookworm-minbase
mkdir -p "$cache"

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "fresh-check: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -f "$base/.complete" ]; then
    echo "fresh-check: building the base root in $base (once)" >&2
    rm -rf "$base"
    debootstrap --variant=minbase --include=git,make,ca-certificates,sudo \
        bookworm "$base" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { echo "fresh-check: debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }
    touch "$base/.complete"
fi

work=$(mktemp -d "$cache/run.XXXXXX")
root=$work/root
mounted() { grep -q " $root/" /proc/mounts; }
# processes still running inside the root (an interrupted make)
in_root() {
    for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then echo "${p#/proc/}"; fi
    done
    return 0
}
cleanup() {
    set +e
    pids=$(in_root)
    [ -z "$pids" ] || { kill -9 $pids 2>/dev/null || :; sleep 1; }
    for m in dev/pts dev/shm proc sys; do umount "$root/$m" 2>/dev/null || umount -l "$root/$m" 2>/dev/null || :; done
    if mounted; then
        echo "fresh-check: $root still has mounts; not deleting it" >&2
    elif [ "${FRESH_KEEP:-0}" = 1 ]; then
        echo "fresh-check: kept $root" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fresh-check: copying the base root, cloning $rev" >&2
cp -a "$base" "$root"
rm -f "$root/.complete"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
# what every booted machine has and a chroot does not: Criterion keeps its
# shared arena in /dev/shm, and a terminal-less sudo still wants /dev/pts
mkdir -p "$root/dev/shm" "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
chroot "$root" useradd -m -s /bin/sh lb
echo 'lb ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/lb"
chmod 440 "$root/etc/sudoers.d/lb"
git clone -q "$repo" "$root/home/lb/langbench"
chroot "$root" chown -R lb:lb /home/lb/langbench

# step NAME: `make NAME` in the clone as lb, no locale, fresh environment.
# Sets NAME_rc and NAME_s.
step() {
    log=$cache/last-make-$1.log
    echo "fresh-check: make $1 (log $log)" >&2
    t0=$(date +%s)
    set +e
    chroot --userspec=lb:lb "$root" env -i HOME=/home/lb \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        sh -c "cd /home/lb/langbench && make $1" >"$log" 2>&1
    rc=$?
    set -e
    t1=$(date +%s)
    eval "${1}_rc=$rc ${1}_s=$((t1 - t0))"
}

if [ "$order" = run-first ]; then step run; step test; else step test; step run; fi

tests=$(sed -n 's/.*Synthesis: Tested: \([0-9]*\) | Passing: \([0-9]*\).*/\2\/\1 passed/p' \
    "$cache/last-make-test.log" | tail -1)
echo "fresh-check $rev ($order, Debian 12 minbase, user with sudo, no locale):" \
     "make run: exit $run_rc in ${run_s} s; make test: exit $test_rc in ${test_s} s;" \
     "tests ${tests:-not run}"
[ "$run_rc" -eq 0 ] && [ "$test_rc" -eq 0 ]
