#!/usr/bin/env bash
# Installs the headless browser of the browser tests (pytest marker "browser"): Debian's
# chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver). Idempotent: exits at
# once when both are installed. Needs root (apt-get), as scripts/bootstrap.sh dev does.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
echo "browser: installing chromium and chromium-driver (apt)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
echo "browser: $(chromium --version 2>/dev/null || echo 'chromium not found')"
