{{/*
A per-service switch that follows a global default: the service's own true/false wins,
null means "as global says". Renders "true" or nothing, for `if`.
dict "local" L "global" G
*/}}
{{- define "common.toggle" -}}
{{- if kindIs "bool" .local -}}
{{- if .local }}true{{ end -}}
{{- else if .global -}}
true
{{- end -}}
{{- end -}}

{{- define "common.monitoringOn" -}}
{{- include "common.toggle" (dict "local" .local "global" ((.context.Values.global).monitoring).enabled) -}}
{{- end -}}

{{- define "common.certificateOn" -}}
{{- include "common.toggle" (dict "local" .Values.certificate.enabled "global" ((.Values.global).certManager).enabled) -}}
{{- end -}}

{{/* NetworkPolicies are on unless switched off (a missing global means on). */}}
{{- define "common.networkPolicyOn" -}}
{{- $global := ((.Values.global).networkPolicy).enabled -}}
{{- include "common.toggle" (dict "local" .Values.networkPolicy.enabled "global" (kindIs "bool" $global | ternary $global true)) -}}
{{- end -}}

{{/*
Whether the service speaks mutual TLS on gRPC with a certificate mounted from the Secret
<release>-<component>-tls: issued by cert-manager (common.certificateOn), or made by you
for a cluster without cert-manager (global.tls.existingSecrets).
*/}}
{{- define "common.appTlsOn" -}}
{{- if or (include "common.certificateOn" .) ((.Values.global).tls).existingSecrets }}true{{ end -}}
{{- end -}}
