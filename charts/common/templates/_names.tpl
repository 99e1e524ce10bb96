{{/*
Names. A service chart's objects are called <release>-<component>; the gateway finds its
backends by the same rule, so there is no nameOverride to break it. The shared data tier
(Kafka, Redis, PostgreSQL, the CA) is named after the stack, which is the release that owns
it: a second colour joins that stack by naming it in global.stack.
*/}}

{{- define "common.stack" -}}
{{- (.Values.global).stack | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<name>; dict "name" N "context" $ */}}
{{- define "common.fullnameFor" -}}
{{- printf "%s-%s" .context.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.fullname" -}}
{{- include "common.fullnameFor" (dict "name" .Values.component "context" .) -}}
{{- end -}}

{{/* <stack>-<name>, for the shared data tier; dict "name" N "context" $ */}}
{{- define "common.stackName" -}}
{{- printf "%s-%s" (include "common.stack" .context) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.color" -}}
{{- (.Values.global).color | default "blue" -}}
{{- end -}}

{{- define "common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "common.fullname" .) -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
