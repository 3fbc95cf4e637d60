{{/* Name of the chart's objects: the release name when it contains the chart name. */}}
{{- define "nicguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nicguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object; part-of is what the uninstall in docs/deploy.md selects by. */}}
{{- define "nicguard.labels" -}}
app.kubernetes.io/name: {{ include "nicguard.name" . }}
app.kubernetes.io/part-of: nicguard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The webhook pods, as the Deployment, Service, PDB and NetworkPolicy select them. */}}
{{- define "nicguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nicguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "nicguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the pods mount: tls.crt, tls.key (and ca.crt). */}}
{{- define "nicguard.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "secret" }}
{{- required "certificates.secret.name is required with certificates.mode=secret" .Values.certificates.secret.name }}
{{- else }}
{{- printf "%s-tls" (include "nicguard.fullname" .) }}
{{- end }}
{{- end }}

{{- define "nicguard.configMapName" -}}
{{- printf "%s-config" (include "nicguard.fullname" .) }}
{{- end }}

{{/* The names the API server may use for the Service (as `nicguard certs` puts in its SANs). */}}
{{- define "nicguard.serviceDnsNames" -}}
{{- $svc := include "nicguard.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}
