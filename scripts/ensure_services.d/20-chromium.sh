#!/usr/bin/env bash
# Debian's Chromium for the portal's browser tests (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing chromium with apt-get …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
