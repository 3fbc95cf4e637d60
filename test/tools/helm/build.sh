#!/usr/bin/env bash
# Builds the real helm binary used by test/chart.test.ts into test/tools/helm/.bin/helm,
# from the Go module proxy: helm.sh/helm/v3 cmd/helm, pinned in go.mod (the `tool`
# directive keeps it in the module graph). No downloaded release binary, no Docker.
# Re-running is cheap: Go's build cache does the work, and an up-to-date binary is kept.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/.bin"
mkdir -p "$bin"
cd "$here"

# Stamp the version the way helm's own Makefile does (helm.sh/helm/v3 Makefile, v3.22.0):
# `helm version` and .Capabilities.HelmVersion report it, and lint/template default to
# the Kubernetes version of the client-go helm was built with.
helm_version="$(go list -m -f '{{.Version}}' helm.sh/helm/v3)"
client_go="$(go list -m -f '{{.Version}}' k8s.io/client-go)"
k8s_minor="${client_go#v0.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

export CGO_ENABLED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

start="$(now)"
go mod download
echo "build.sh: go mod download: $(elapsed "$start")"
t="$(now)"
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$bin/helm" helm.sh/helm/v3/cmd/helm
echo "build.sh: helm ($helm_version): $(elapsed "$t"); total $(elapsed "$start") -> $bin/helm"
