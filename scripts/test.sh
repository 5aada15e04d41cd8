#!/usr/bin/env bash
# The one test command (`bun run test`): checks the Debian packages the tests need (installs them
# when run as root, fails loudly otherwise), builds the UI and the host binary, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(libgtk-4-1 libwebkitgtk-6.0-4 libvulkan1 xvfb xauth imagemagick chromium zbar-tools python3-xlib systemd)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "test: missing Debian packages: ${missing[*]}" >&2
    echo "test: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

[ -d node_modules ] || bun install --frozen-lockfile
bun build.ts --host-only
# bunfig.toml's [test] timeout is not read by this Bun (tests and hooks got 5 s); the flag is.
bun test --timeout 30000 "$@"
