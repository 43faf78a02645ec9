#!/usr/bin/env bash
# Build a real kube-apiserver and kube-controller-manager (v1.20.2) from Debian's `kubernetes`
# source package, offline (its vendor/ is complete), into a cache outside the repository.
# Used by the conformance leg of the Kubernetes contract suite; skipped when the cache has them.
#
#   KUBE_CACHE (default /var/cache/bluedock/kube) receives bin/kube-apiserver, bin/kube-controller-manager.
# The deb-src list is derived from this machine's own apt sources, in a private apt state
# directory, so the system's apt configuration is never changed.
set -euo pipefail
CACHE=${KUBE_CACHE:-/var/cache/bluedock/kube}
if [ -x "$CACHE/bin/kube-apiserver" ] && [ -x "$CACHE/bin/kube-controller-manager" ]; then
  if ! command -v etcd >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  fi
  echo "[kube] cached: $CACHE/bin"; exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[kube] building needs root for apt (golang-go etcd-server rsync); run as root or fill $CACHE/bin" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
need=()
command -v go >/dev/null || need+=(golang-go)
command -v etcd >/dev/null || need+=(etcd-server)
command -v rsync >/dev/null || need+=(rsync)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
WORK="$CACHE/work"; mkdir -p "$WORK/apt/lists/partial" "$WORK/src" "$CACHE/bin"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f"
done > "$WORK/apt/deb-src.sources"
APTO=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$WORK/apt" -o "Dir::State::Lists=$WORK/apt/lists")
apt-get "${APTO[@]}" update -qq
cd "$WORK/src"
ls kubernetes_*.orig.tar.gz >/dev/null 2>&1 || apt-get "${APTO[@]}" source --download-only kubernetes >/dev/null
tree=$(ls -d kubernetes-*/ 2>/dev/null | head -1 || true)
if [ -z "$tree" ]; then tar xzf kubernetes_*.orig.tar.gz; tree=$(ls -d kubernetes-*/ | head -1); fi
cd "$tree"
echo "[kube] building kube-apiserver and kube-controller-manager in $PWD (about 4 minutes on 2 cores)"
HOME="$WORK/home" GOPROXY=off GOFLAGS= make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; exit 1; }
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$CACHE/bin/"
# The Go cache and the tree are 2 GB; only the two binaries are kept.
cd "$CACHE" && rm -rf "$WORK/src" "$WORK/home"
echo "[kube] built: $("$CACHE/bin/kube-apiserver" --version)"
