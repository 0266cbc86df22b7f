#!/usr/bin/env bash
# Installs what the browser tests (pytest -m browser) need: Debian's Chromium and Playwright for Python.
# Playwright drives /usr/bin/chromium; `playwright install` is NOT run: it downloads its own browser, which fails
# offline. Run as root (CI containers) or with sudo available; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${VENV:-.venv}/bin/pip"
[ -x "$PIP" ] || PIP="pip"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
"$PIP" install -q playwright openai
/usr/bin/chromium --headless --no-sandbox --disable-gpu --version 2>/dev/null || /usr/bin/chromium --version
