#!/usr/bin/env bash
# Regenerates subnet.v1.schema.json: the openAPIV3Schema of the subnets.kubeovn.io CRD,
# version v1, from kubeovn/kube-ovn charts/kube-ovn/templates/kube-ovn-crd.yaml at the tag
# below (the Helm template lines that wrap it are dropped).
# Usage: regenerate.sh [file]   (the chart file; default: downloaded from GitHub at the tag)
set -euo pipefail
tag=v1.15.24
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
src="${1:-}"
if [ -z "$src" ]; then
  src="$(mktemp)"
  trap 'rm -f "$src"' EXIT
  curl -fsSL "https://raw.githubusercontent.com/kubeovn/kube-ovn/$tag/charts/kube-ovn/templates/kube-ovn-crd.yaml" -o "$src"
fi
(cd "$root" && npm run --silent build)
node "$root/dist/scripts/crd-schema.js" subnets.kubeovn.io v1 <"$src" >"$here/subnet.v1.schema.json"
echo "wrote $here/subnet.v1.schema.json from kube-ovn $tag"
