#!/usr/bin/env bash
# The Debian packages some tests start for real: HAProxy (the fleet's load balancer),
# PgBouncer (transaction pooling in front of PostgreSQL), Chromium (the chart pages) and
# redis-server (the fleet tests start a private one for what workers share).
# Installs whatever is missing when run as root with apt-get; otherwise names the command.
set -euo pipefail
missing=()
for binary in haproxy:haproxy pgbouncer:pgbouncer chromium:chromium redis-server:redis-server; do
    command -v "${binary%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${binary%%:*}" ] \
        || missing+=("${binary##*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "the fleet and chart tests need: sudo apt-get install ${missing[*]}" >&2
    echo "(without them those tests are skipped, and fail when ZAVA_REQUIRE_SYSTEM_PACKAGES=1)" >&2
fi
