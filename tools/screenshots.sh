#!/usr/bin/env bash
# The README's screenshots of the monitor and the control window at 1280x800 under a real X server (Xvfb): the
# Xvfb test draws them (and checks nothing is cropped); this keeps them in docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(pwd)/docs/screenshots"
rm -rf "$out"
STXM_OPERANDO_SCREENSHOTS="$out" .venv/bin/python -m pytest -q -p no:cacheprovider -n 0 \
    "tests/test_monitor_xvfb.py::test_the_monitor_in_a_real_x_window_live_replay_and_stack[size0]" \
    "tests/test_control_window.py::test_the_control_window_on_a_real_x_display_with_a_surveyed_field"
rm -f "$out"/*_1920x1080.png
ls -l "$out"
