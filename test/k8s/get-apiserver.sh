#!/usr/bin/env bash
# Prints a folder holding kube-apiserver and etcd for the Kubernetes-mode tests.
#  1. $KUBEBUILDER_ASSETS, when it holds both (as envtest users have);
#  2. else a cached build under ${WEIR_CACHE:-~/.cache/weir}/kube/bin;
#  3. else it builds kube-apiserver 1.20.2 from Debian's `kubernetes` source
#     package (Go 1.19, with the vendored reflect2 replaced by Debian's 1.0.2,
#     which fixes a segfault on custom-resource writes) and caches it. About 5
#     minutes on 2 cores, once per machine. etcd comes from Debian's etcd-server.
# Progress goes to stderr; the folder is the only line on stdout.
set -euo pipefail
say() { echo "get-apiserver: $*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

cache="${WEIR_CACHE:-$HOME/.cache/weir}/kube"
bin="$cache/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
  echo "$bin"; exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "kube-apiserver is not cached in $bin and building it needs root and apt-get; set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$bin" "$cache/src"

# Debian source packages: a deb-src entry made from the machine's own sources.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  say "adding a deb-src entry for Debian's main archive"
  uris=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "${uris:-http://deb.debian.org/debian}" > /etc/apt/sources.list.d/weir-deb-src.sources
fi
say "installing build dependencies (golang-go, etcd-server, reflect2 1.0.2)"
apt-get update -qq >&2
apt-get install -y -qq golang-go rsync jq etcd-server golang-github-modern-go-reflect2-dev dpkg-dev >&2

cd "$cache/src"
if [ ! -d kubernetes-src ]; then
  say "fetching Debian's kubernetes source package (34 MB)"
  rm -rf extract && mkdir extract && (cd extract && apt-get source -qq kubernetes >&2)
  mv "$(find extract -maxdepth 1 -mindepth 1 -type d | head -1)" kubernetes-src
  rm -rf extract
fi
cd kubernetes-src
say "replacing vendored reflect2 with Debian's 1.0.2 (the vendored 1.0.1 segfaults under Go >= 1.18)"
rm -rf vendor/github.com/modern-go/reflect2
mkdir -p vendor/github.com/modern-go/reflect2
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s vendor/github.com/modern-go/reflect2/ 2>/dev/null || cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
say "building kube-apiserver (about 5 minutes on 2 cores)"
(cd .go/src/k8s.io/kubernetes && GOPATH="$PWD/../../.." CGO_ENABLED=0 make WHAT=cmd/kube-apiserver >&2)
cp _output/bin/kube-apiserver "$bin/kube-apiserver"
ln -sfn "$(command -v etcd)" "$bin/etcd"
say "cached in $bin"
echo "$bin"
