#!/usr/bin/env bash
# Builds the real Kubernetes binaries used by the e2e tests into test/e2e/.bin/:
#   e2e-apiserver  kube-apiserver + embedded etcd (test/e2e/apiserver/main.go)
#   kubectl        k8s.io/kubernetes/cmd/kubectl, same module version
# Both come from the Go module in test/e2e/apiserver (k8s.io/kubernetes pinned
# in its go.mod). Re-running is cheap: Go's build cache does the work.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/apiserver"
bin="$here/.bin"
mkdir -p "$bin"

# Stamp the real version into both binaries (otherwise they report
# v0.0.0-master). Only the link step sees -ldflags, so caching is unaffected.
k8s_version="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${k8s_version#v1.}"
minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"

export CGO_ENABLED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

total_start="$(now)"
cd "$mod"

t="$(now)"
go mod download
echo "build.sh: go mod download: $(elapsed "$t")"

t="$(now)"
go build -trimpath -ldflags "$ldflags" -o "$bin/e2e-apiserver" .
echo "build.sh: e2e-apiserver ($k8s_version): $(elapsed "$t")"

t="$(now)"
go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl
echo "build.sh: kubectl ($k8s_version): $(elapsed "$t")"

echo "build.sh: total: $(elapsed "$total_start") -> $bin"
