{{/*
Everything a trademesh service chart renders, from its values: a service chart's only
template is `{{ include "common.serviceChart" . }}`.
*/}}
{{- define "common.serviceChart" -}}
{{- $parts := list "common.serviceAccount" "common.deployment" "common.service" "common.podDisruptionBudget" "common.networkPolicy" "common.serviceMonitor" "common.prometheusRule" "common.certificate" "common.meshAuthorization" "common.migrationJob" -}}
{{- range $parts }}
{{- $rendered := include . $ | trim }}
{{- if $rendered }}
---
{{ $rendered }}
{{- end }}
{{- end }}
{{- end -}}
