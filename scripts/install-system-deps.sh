#!/bin/sh
# Install the system tools the viewer's tests use for real: Chromium (the timeline page in a
# headless browser) and lnav (our log format definition), with apt on Debian/Ubuntu.
#
# apt runs only when nothing can prompt: as root, or in CI (CI=true) through a passwordless
# `sudo -n`. A developer's own sudo is never used, even without a password: installing system
# packages is theirs to decide. Otherwise one line says what to install, and the tests that need
# the tools skip; under AGENT_TRACING_REQUIRE_SERVICES=1 (CI) that line comes with a failure.
# Idempotent: nothing runs when both are installed.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing="$missing chromium"
command -v lnav >/dev/null 2>&1 || missing="$missing lnav"
[ -n "$missing" ] || exit 0

# Say what to install, once, then let the tests skip (or fail the build when they are required).
give_up() {
    echo "system deps:$missing not installed, so the viewer's Chromium and lnav tests skip;" \
        "$1"
    [ "${AGENT_TRACING_REQUIRE_SERVICES:-}" != 1 ]
    exit
}

if ! command -v apt-get >/dev/null 2>&1; then
    give_up "install$missing with your package manager"
fi
hint="install them with: sudo apt-get install$missing"

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif case "${CI:-}" in true | TRUE | True | 1) true ;; *) false ;; esac \
    && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    give_up "$hint"
fi

apt_get() {
    # shellcheck disable=SC2086 # $as_root is empty or "sudo -n", meant to split
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}
apt_install() {
    # shellcheck disable=SC2086 # the package list is meant to split
    apt_get install -y -qq --no-install-recommends $missing
}

echo "system deps: installing$missing"
# Update the package lists only when they do not know a package (a fresh container's are empty).
updated=""
for package in $missing; do
    if ! apt-cache show "$package" >/dev/null 2>&1; then
        apt_get update -qq || give_up "$hint"
        updated=1
        break
    fi
done
# Lists that know the packages can still be stale (a 404 on download): update once, retry.
apt_install || { [ -z "$updated" ] && apt_get update -qq && apt_install; } || give_up "$hint"
