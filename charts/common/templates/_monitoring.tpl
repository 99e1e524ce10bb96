{{/*
Prometheus Operator objects. The job label is the component name (jobLabel), not the
Service name, so that alert rules and dashboards read the same in every release and colour.
*/}}
{{- define "common.serviceMonitor" -}}
{{- if include "common.monitoringOn" (dict "local" .Values.serviceMonitor.enabled "context" .) }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    {{- with ((.Values.global).monitoring).labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  selector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval | default "30s" }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout | default "10s" }}
{{- end }}
{{- end -}}

{{- define "common.prometheusRule" -}}
{{- if include "common.monitoringOn" (dict "local" .Values.prometheusRule.enabled "context" .) }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    {{- with ((.Values.global).monitoring).labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ include "common.fullname" . }}
      rules:
        - alert: TrademeshServiceDown
          expr: absent(up{job="{{ .Values.component }}", namespace="{{ .Release.Namespace }}"} == 1)
          for: 5m
          labels:
            severity: critical
            service: {{ .Values.component }}
          annotations:
            summary: No {{ .Values.component }} instance in {{ .Release.Namespace }} has answered a scrape for 5 minutes.
        {{- with .Values.prometheusRule.rules }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}
{{- end -}}

{{/*
A workload certificate for mutual TLS, issued by cert-manager: DNS names for the Service,
and a SPIFFE-style URI SAN naming the ServiceAccount, which peers authorize on.
*/}}
{{- define "common.certificate" -}}
{{- if include "common.certificateOn" . }}
{{- $certManager := (.Values.global).certManager | default dict }}
{{- $issuer := $certManager.issuerRef | default dict }}
{{- $name := include "common.fullname" . }}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  secretName: {{ $name }}-tls
  duration: {{ .Values.certificate.duration | default "720h" }}
  renewBefore: {{ .Values.certificate.renewBefore | default "240h" }}
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  usages: [server auth, client auth]
  dnsNames:
    - {{ $name }}
    - {{ $name }}.{{ .Release.Namespace }}
    - {{ $name }}.{{ .Release.Namespace }}.svc
  uris:
    - spiffe://{{ $certManager.trustDomain | default "trademesh.local" }}/ns/{{ .Release.Namespace }}/sa/{{ include "common.serviceAccountName" . }}
  issuerRef:
    name: {{ $issuer.name | default (include "common.stackName" (dict "name" "ca" "context" .)) }}
    kind: {{ $issuer.kind | default "Issuer" }}
    group: cert-manager.io
{{- end }}
{{- end -}}
