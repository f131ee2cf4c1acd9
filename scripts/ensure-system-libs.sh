#!/usr/bin/env bash
# Install from Debian/Ubuntu packages, if missing: the system libraries PyQt5 needs (offscreen
# and on a real X display), and with the argument "test" also PostgreSQL, Redis and Xvfb (the
# tests of a PostgreSQL catalog, of the queue server and of the monitor in a real window).
set -euo pipefail
declare -A packages=(
  [libGL.so.1]=libgl1 [libEGL.so.1]=libegl1 [libxkbcommon.so.0]=libxkbcommon0
  [libfontconfig.so.1]=libfontconfig1 [libglib-2.0.so.0]=libglib2.0-0 [libdbus-1.so.3]=libdbus-1-3
  # Qt's xcb platform, for a real X display
  [libxcb-icccm.so.4]=libxcb-icccm4 [libxcb-keysyms.so.1]=libxcb-keysyms1
  [libxcb-xinerama.so.0]=libxcb-xinerama0 [libxcb-image.so.0]=libxcb-image0
  [libxcb-render-util.so.0]=libxcb-render-util0 [libxcb-randr.so.0]=libxcb-randr0
  [libxcb-shape.so.0]=libxcb-shape0 [libxcb-xfixes.so.0]=libxcb-xfixes0
  [libxcb-xkb.so.1]=libxcb-xkb1 [libxkbcommon-x11.so.0]=libxkbcommon-x11-0
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
# Xvfb for the test of the monitor in a real X window
if [ "${1:-}" = test ] && ! command -v Xvfb >/dev/null; then
  missing+=(xvfb)
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
