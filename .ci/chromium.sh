#!/usr/bin/env bash
# Headless Chromium for tests/integration/test_report_browser.py (renders the HTML report).
# Debian's package; as root it runs with --no-sandbox.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
