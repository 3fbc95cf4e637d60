{{- define "nicguard.webhookAnnotations" -}}
{{- if eq .Values.certificates.mode "certManager" -}}
annotations:
  # cert-manager's CA injector writes the serving certificate's CA into caBundle.
  cert-manager.io/inject-ca-from: {{ printf "%s/%s-serving" .Release.Namespace (include "nicguard.fullname" .) }}
{{- end }}
{{- end }}

{{/* The settings both webhooks share; the dict holds root, path and caBundle. */}}
{{- define "nicguard.webhookCommon" -}}
{{- $root := .root -}}
admissionReviewVersions: ["v1"]
sideEffects: None
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
clientConfig:
  service:
    name: {{ include "nicguard.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- with .caBundle }}
  caBundle: {{ . }}
  {{- end }}
rules:
  - apiGroups: ["kubevirt.io"]
    apiVersions: ["v1"]
    resources: ["virtualmachines", "virtualmachineinstances"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
  - apiGroups: ["k8s.cni.cncf.io"]
    apiVersions: ["v1"]
    resources: ["network-attachment-definitions"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
  # Subnets are cluster-scoped: the namespaceSelector does not apply to them.
  - apiGroups: ["kubeovn.io"]
    apiVersions: ["v1"]
    resources: ["subnets"]
    operations: ["CREATE", "UPDATE"]
    scope: Cluster
# Exempt by name (kubernetes.io/metadata.name is set by the API server only).
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ concat $root.Values.webhook.excludedNamespaces (list $root.Release.Namespace) | uniq | toJson }}
    {{- if $root.Values.webhook.namespaceLabelOptOut }}
    # Opt-in: whoever may label a namespace can exempt it (docs/deploy.md).
    - key: nicguard.io/ignore
      operator: NotIn
      values: ["true"]
    {{- end }}
{{- with $root.Values.config.exemptServiceAccounts }}
{{- $quoted := list }}
{{- range . }}{{ $quoted = append $quoted (printf "'%s'" .) }}{{ end }}
# The accounts the policy exempts (config.exemptServiceAccounts) are not sent at all, so a
# nicguard outage never stops KubeVirt's controllers.
matchConditions:
  - name: not-kubevirt-controllers
    expression: {{ printf "!(request.userInfo.username in [%s])" (join ", " $quoted) | quote }}
{{- end }}
{{- end }}
