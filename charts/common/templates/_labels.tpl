{{/*
Labels. Every object carries the recommended app.kubernetes.io/* set. Selectors use only
name and instance (immutable across upgrades); pods add their colour, their stack and one
trademesh.io/<dependency>-client label per data-tier dependency, which the data tier's
NetworkPolicies admit.
*/}}

{{/* dict "name" N "component" C "context" $ ["version" V] */}}
{{- define "common.labelsFor" -}}
{{ include "common.selectorLabelsFor" . }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: trademesh
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/version: {{ .version | default .context.Chart.AppVersion | default .context.Chart.Version | trunc 63 | quote }}
helm.sh/chart: {{ include "common.chart" .context }}
trademesh.io/stack: {{ include "common.stack" .context }}
{{- end -}}

{{/* dict "name" N "context" $ */}}
{{- define "common.selectorLabelsFor" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- end -}}

{{- define "common.labels" -}}
{{ include "common.labelsFor" (dict "name" .Values.component "component" .Values.role "version" (.Values.image.tag | default .Chart.AppVersion) "context" .) }}
{{- end -}}

{{- define "common.selectorLabels" -}}
{{ include "common.selectorLabelsFor" (dict "name" .Values.component "context" .) }}
{{- end -}}

{{/* Pod labels of a service's workloads; dict "name" N "component" C "context" $ */}}
{{- define "common.podLabelsFor" -}}
{{ include "common.labelsFor" . }}
trademesh.io/color: {{ include "common.color" .context }}
{{- range $dependency, $used := (hasKey . "uses" | ternary .uses .context.Values.uses) }}
{{- if $used }}
trademesh.io/{{ $dependency }}-client: "true"
{{- end }}
{{- end }}
{{- end -}}

{{- define "common.podLabels" -}}
{{ include "common.podLabelsFor" (dict "name" .Values.component "component" .Values.role "version" (.Values.image.tag | default .Chart.AppVersion) "context" .) }}
{{- end -}}

