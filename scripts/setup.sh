#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine (README step 1; CI runs it too):
# Debian packages the worker and the tests need, pnpm at the pinned version, and the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Mesa's EGL/GLES + llvmpipe: WebGPU's `gl` backend without a GPU.
# Prometheus 2.42 and promtool: `pnpm dev` runs one; tests use the real thing.
# PostgreSQL 15: @tops/store's tests and benchmark start throwaway clusters (initdb/pg_ctl, as the
# `postgres` user the package creates) and run every store test on it as well as on the embedded engine.
DEBS=(libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 prometheus postgresql)
missing=()
# "install ok installed" only: a removed package keeps a dpkg record (config-files) that dpkg -s accepts.
for p in "${DEBS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PNPM_VERSION=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "==> npm install -g pnpm@$PNPM_VERSION"
  $SUDO npm install -g --silent "pnpm@$PNPM_VERSION"
fi

echo "==> pnpm install"
if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile --reporter=append-only; else pnpm install; fi
