#!/usr/bin/env bash
# Install from Debian/Ubuntu packages, if missing: the system libraries PyQt5 needs, and with
# the argument "test" also PostgreSQL and Redis (the tests of a PostgreSQL catalog and of
# the queue server).
set -euo pipefail
declare -A packages=(
  [libGL.so.1]=libgl1 [libEGL.so.1]=libegl1 [libxkbcommon.so.0]=libxkbcommon0
  [libfontconfig.so.1]=libfontconfig1 [libglib-2.0.so.0]=libglib2.0-0 [libdbus-1.so.3]=libdbus-1-3
)
missing=()
for lib in "${!packages[@]}"; do
  ldconfig -p | grep -q "$lib" || missing+=("${packages[$lib]}")
done
# PostgreSQL's server programs and its postgres user, for the tests
if [ "${1:-}" = test ] && ! command -v initdb >/dev/null \
    && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# Redis for the queue server's tests
if [ "${1:-}" = test ] && ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"
else
  echo "please install: ${missing[*]}" >&2; exit 1
fi
