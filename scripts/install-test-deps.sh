#!/usr/bin/env bash
# What `make test` needs beyond the Rust toolchain, installed when missing:
# the one list, used by `make test` (its `deps` step) and by `.ci/run`.
# On a Debian machine of this project's kind: PostgreSQL server and client,
# openssl, file, util-linux (runuser, unshare, nsenter), shellcheck, jq,
# curl, iproute2 (ss), python3-venv, and for `make browser-test` Debian's
# Chromium (playwright-core downloads no browser) with Node.js and npm.
# Then the `postgres` user when we are root (PostgreSQL refuses to run as
# root), clippy and rustfmt, and a check that terraform is on PATH (no
# Debian package: it comes with the machine image).
#
# Installs with apt-get (as root, or through sudo); prints what it
# installs; exits non-zero, naming the tool, when it cannot. It never
# skips: a test that needs a tool finds it, or `make test` stops here.
# Nothing to do (everything present) costs a few `command -v`.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
for tool in openssl:openssl file:file runuser:util-linux unshare:util-linux nsenter:util-linux \
            shellcheck:shellcheck jq:jq curl:curl ss:iproute2 \
            chromium:chromium node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ "${#need[@]}" -gt 0 ]; then
  # util-linux appears once per tool it provides.
  mapfile -t need < <(printf '%s\n' "${need[@]}" | awk '!seen[$0]++')
  echo "install-test-deps: installing ${need[*]}"
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "install-test-deps: missing ${need[*]}, and neither root nor sudo to install them" >&2
    exit 1
  fi
  sudo_ apt-get update -q
  sudo_ apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "install-test-deps: adding the postgres system user"
  useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi

if command -v rustup >/dev/null; then
  installed=$(rustup component list --installed 2>/dev/null || true)
  for c in clippy rustfmt; do
    grep -q "^$c" <<<"$installed" || rustup component add "$c"
  done
fi

command -v terraform >/dev/null || {
  echo "install-test-deps: terraform is not on PATH (make tf-test needs it; no Debian package)" >&2
  exit 1
}
