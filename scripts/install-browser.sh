#!/usr/bin/env sh
# Install headless Chromium (Debian's `chromium` package) for the report's browser test.
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (CI runs as
# root); tests/report/test_page.py skips its browser tests, with this script's name, without it.
set -eu
if [ -x /usr/bin/chromium ]; then
    echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium by hand (tests skip without it)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
/usr/bin/chromium --version 2>/dev/null | tail -n 1
