#!/usr/bin/env bash
# Builds the real Kubernetes and KubeVirt binaries used by the e2e tests into test/e2e/.bin/:
#   e2e-apiserver       kube-apiserver + embedded etcd (test/e2e/apiserver/main.go)
#   kubectl             k8s.io/kubernetes/cmd/kubectl, same module version
#   virt-api            kubevirt.io/kubevirt/cmd/virt-api        (test/e2e/kubevirt module)
#   virt-controller     kubevirt.io/kubevirt/cmd/virt-controller (test/e2e/kubevirt module)
#   kubevirt-manifests  KubeVirt's CRDs, RBAC and webhooks (test/e2e/kubevirt/manifests)
# Two Go modules (KubeVirt pins k8s.io/* v0.34, the API server is v1.37), each with
# its versions in its go.mod. Re-running is cheap: Go's build cache does the work.
# Heavy compiles run under `nice` (the build machine is shared).
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
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$bin/e2e-apiserver" .
echo "build.sh: e2e-apiserver ($k8s_version): $(elapsed "$t")"

t="$(now)"
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl
echo "build.sh: kubectl ($k8s_version): $(elapsed "$t")"

# KubeVirt: no libvirt in virt-api/virt-controller, so CGO stays off here too.
kv_mod="$here/kubevirt"
cd "$kv_mod"
kv_version="$(go list -m -f '{{.Version}}' kubevirt.io/kubevirt)"
kv_ldflags="-s -w -X kubevirt.io/client-go/version.gitVersion=$kv_version"
kv_ldflags+=" -X kubevirt.io/client-go/version.gitTreeState=clean"

t="$(now)"
go mod download
echo "build.sh: go mod download (kubevirt): $(elapsed "$t")"

for cmd in virt-api virt-controller; do
  t="$(now)"
  nice -n 10 go build -trimpath -ldflags "$kv_ldflags" -o "$bin/$cmd" "kubevirt.io/kubevirt/cmd/$cmd"
  echo "build.sh: $cmd ($kv_version): $(elapsed "$t")"
done

t="$(now)"
nice -n 10 go build -trimpath -ldflags "-s -w" -o "$bin/kubevirt-manifests" ./manifests
echo "build.sh: kubevirt-manifests ($kv_version): $(elapsed "$t")"

echo "build.sh: total: $(elapsed "$total_start") -> $bin"
