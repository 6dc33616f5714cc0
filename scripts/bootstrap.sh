#!/usr/bin/env bash
# Installs everything the two commands need on a fresh machine, idempotently:
# a .venv with the project and its test extras, Debian's prometheus (prometheus, promtool),
# npm's deno under .tools/, and Debian's chromium. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch .venv/.installed
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    kubernetes-client >/dev/null
fi

# Debian's Chromium: the release view's browser tests drive it headless (Playwright, no download).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium >/dev/null
fi

# Lua runs the Argo CD health check's test (deploy/argocd/health.lua); 0.3 MB, seconds to install.
if ! command -v lua5.4 >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    lua5.4 >/dev/null
fi

if [ ! -x .tools/node_modules/.bin/deno ]; then
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"name":"klt-tools","private":true}' > .tools/package.json
  npm install --silent --prefix .tools deno >/dev/null 2>&1
fi
