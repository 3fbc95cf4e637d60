#!/usr/bin/env bash
# Regenerates networkattachmentdefinition.v1.schema.json: the openAPIV3Schema of the
# network-attachment-definitions.k8s.cni.cncf.io CRD, version v1, from
# k8snetworkplumbingwg/multus-cni deployments/multus-daemonset.yml at the tag below.
# Usage: regenerate.sh [file]   (the manifest; default: downloaded from GitHub at the tag)
set -euo pipefail
tag=v4.3.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
src="${1:-}"
if [ -z "$src" ]; then
  src="$(mktemp)"
  trap 'rm -f "$src"' EXIT
  curl -fsSL "https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni/$tag/deployments/multus-daemonset.yml" -o "$src"
fi
(cd "$root" && npm run --silent build)
node "$root/dist/scripts/crd-schema.js" network-attachment-definitions.k8s.cni.cncf.io v1 <"$src" \
  >"$here/networkattachmentdefinition.v1.schema.json"
echo "wrote $here/networkattachmentdefinition.v1.schema.json from multus-cni $tag"
