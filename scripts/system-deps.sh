#!/usr/bin/env bash
# Debian packages the integration tests use, installed only when missing:
#   openssh-server  git-over-SSH tests run a real sshd on 127.0.0.1
#   tmux            the terminal test drives the CLI's live progress view
#   chromium        the browser tests drive the web UI with Playwright (never a browser download)
#   gnupg           SOPS decryption with PGP keys (the controller runs gpg; the tests make keys)
set -euo pipefail
missing=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v tmux >/dev/null || missing+=(tmux)
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v gpg >/dev/null && command -v gpgconf >/dev/null || missing+=(gnupg)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "the tests need: ${missing[*]} (apt-get install them as root)" >&2
    exit 2
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
