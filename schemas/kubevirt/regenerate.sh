#!/usr/bin/env bash
# Regenerates the KubeVirt CRD schemas in this folder from KubeVirt's own CRD generator
# (kubevirt.io/kubevirt pkg/virt-operator/resource/generate/components), at the version
# pinned in test/e2e/kubevirt/go.mod. Needs Go (the module proxy serves the sources).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../../test/e2e/kubevirt"
CGO_ENABLED=0 nice -n 10 go run ./manifests --schemas "$here"
echo "wrote $(ls "$here"/*.schema.json | wc -l) schemas for kubevirt.io/kubevirt $(go list -m -f '{{.Version}}' kubevirt.io/kubevirt) to $here"
