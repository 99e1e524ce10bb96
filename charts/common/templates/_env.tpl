{{/*
The environment every trademesh service reads (trademesh_common.config.ServiceSettings):
listen on all interfaces on the cluster's fixed ports, find the data tier, and, for each
component this one calls, TRADEMESH_<COMPONENT>_TARGET (gRPC host:port) or
TRADEMESH_<COMPONENT>_URL (HTTP).
*/}}
{{- define "common.env" -}}
{{- $global := .Values.global | default dict -}}
- name: TRADEMESH_SERVICE_NAME
  value: {{ .Values.component | quote }}
- name: TRADEMESH_ENVIRONMENT
  value: {{ $global.environment | default "prod" | quote }}
- name: TRADEMESH_LOG_LEVEL
  value: {{ .Values.logLevel | default $global.logLevel | default "INFO" | quote }}
- name: TRADEMESH_HTTP_HOST
  value: "0.0.0.0"
- name: TRADEMESH_HTTP_PORT
  value: {{ .Values.ports.http | quote }}
{{- if .Values.ports.grpc }}
- name: TRADEMESH_GRPC_HOST
  value: "0.0.0.0"
- name: TRADEMESH_GRPC_PORT
  value: {{ .Values.ports.grpc | quote }}
{{- end }}
{{- range .Values.calls.grpc }}
- name: TRADEMESH_{{ . | upper }}_TARGET
  value: {{ printf "%s:50051" (include "common.fullnameFor" (dict "name" . "context" $)) | quote }}
{{- end }}
{{- range .Values.calls.http }}
- name: TRADEMESH_{{ . | upper }}_URL
  value: {{ printf "http://%s:8080" (include "common.fullnameFor" (dict "name" . "context" $)) | quote }}
{{- end }}
{{- include "common.dataTier.env" (dict "uses" .Values.uses "component" .Values.component "context" .) }}
{{- with ($global.otlp).endpoint }}
- name: TRADEMESH_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=%s,deployment.environment=%s,trademesh.color=%s" (include "common.stack" .) ($global.environment | default "prod") (include "common.color" .) | quote }}
{{- if include "common.appTlsOn" . }}
- name: TRADEMESH_TLS_CERT_FILE
  value: /etc/trademesh/tls/tls.crt
- name: TRADEMESH_TLS_KEY_FILE
  value: /etc/trademesh/tls/tls.key
- name: TRADEMESH_TLS_CA_FILE
  value: /etc/trademesh/tls/ca.crt
{{- /* The umbrella's ConfigMap <release>-authz-policy (trademesh_common.authz). */}}
- name: TRADEMESH_AUTHZ_POLICY_FILE
  value: /etc/trademesh/authz/policy.yaml
- name: TRADEMESH_AUTHZ_NAMESPACE
  value: {{ .Release.Namespace | quote }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
