#!/usr/bin/env bash
# The Debian tools Signoff's tests and OCR use: dovecot-imapd (the IMAP server the mail tests
# start), tesseract with English (OCR of scanned invoices), poppler-utils (pdftoppm) and
# chromium (the headless browser that drives the Temporal Web UI in a test).
# Installs only what is missing, and only as root on a Debian-like machine; elsewhere it says
# what to install and the tests that need a tool skip with the reason.
set -euo pipefail
packages=(dovecot-imapd tesseract-ocr tesseract-ocr-eng poppler-utils chromium)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "note: install these Debian packages for the full test suite: ${missing[*]}" >&2
fi
