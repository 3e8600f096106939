#!/bin/sh
# Install the system tools the viewer's tests use for real: Chromium (the timeline page in a
# headless browser) and lnav (our log format definition). Idempotent: apt-get runs only when one
# is missing. Needs root (or sudo) on Debian/Ubuntu.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing="$missing chromium"
command -v lnav >/dev/null 2>&1 || missing="$missing lnav"

if [ -z "$missing" ]; then
    echo "system deps: chromium and lnav already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system deps: missing:$missing (install them with your package manager)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "system deps: installing$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # the package list is meant to split
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
