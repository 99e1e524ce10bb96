{{- define "operator.name" -}}
{{- printf "%s-queue-autoscaler" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "operator.labels" -}}
app.kubernetes.io/name: queue-autoscaler
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: trademesh
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "operator.selector" -}}
app.kubernetes.io/name: queue-autoscaler
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
