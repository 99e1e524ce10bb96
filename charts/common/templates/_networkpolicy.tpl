{{/*
One NetworkPolicy per service, on top of the release's default deny: ingress only from the
callers the service names (values callers.*) and from the metrics scraper's namespace;
egress only to DNS, to the components it calls (values calls.*), to the data tier it uses
and to the telemetry collector.
*/}}

{{- define "common.networkPolicy.dnsEgress" -}}
{{- $dns := ((.Values.global).networkPolicy).dns | default dict -}}
- to:
    - namespaceSelector:
        matchLabels:
          {{- toYaml ($dns.namespaceLabels | default (dict "kubernetes.io/metadata.name" "kube-system")) | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml ($dns.podLabels | default (dict "k8s-app" "kube-dns")) | nindent 10 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* The metrics scraper: pods in the monitoring namespace(s). */}}
{{- define "common.networkPolicy.scraperPeer" -}}
{{- $monitoring := (.Values.global).monitoring | default dict -}}
- namespaceSelector:
    matchLabels:
      {{- toYaml ($monitoring.namespaceLabels | default (dict "kubernetes.io/metadata.name" "monitoring")) | nindent 6 }}
  {{- with $monitoring.podLabels }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end -}}

{{/* Egress every workload of the release needs: DNS, the collector, global extras. */}}
{{- define "common.networkPolicy.baseEgress" -}}
{{ include "common.networkPolicy.dnsEgress" . }}
{{- $otlp := (.Values.global).otlp | default dict }}
{{- if $otlp.endpoint }}
- ports:
    - protocol: TCP
      port: {{ $otlp.port | default 4317 }}
  {{- with $otlp.egressTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with ((.Values.global).networkPolicy).extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "common.networkPolicy" -}}
{{- if include "common.networkPolicyOn" . }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if .Values.callers.httpFromAnywhere }}
    - ports:
        - protocol: TCP
          port: http
    {{- else }}
    - from:
        {{- include "common.networkPolicy.scraperPeer" . | nindent 8 }}
        {{- range .Values.callers.http }}
        - podSelector:
            matchLabels:
              {{- include "common.selectorLabelsFor" (dict "name" . "context" $) | nindent 14 }}
        {{- end }}
      ports:
        - protocol: TCP
          port: http
    {{- end }}
    {{- if and .Values.ports.grpc .Values.callers.grpc }}
    - from:
        {{- range .Values.callers.grpc }}
        - podSelector:
            matchLabels:
              {{- include "common.selectorLabelsFor" (dict "name" . "context" $) | nindent 14 }}
        {{- end }}
      ports:
        - protocol: TCP
          port: grpc
    {{- end }}
    {{- with .Values.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    {{- include "common.networkPolicy.baseEgress" . | nindent 4 }}
    {{- range $protocol, $port := dict "grpc" 50051 "http" 8080 }}
    {{- range (get $.Values.calls $protocol) }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "common.selectorLabelsFor" (dict "name" . "context" $) | nindent 14 }}
      ports:
        - protocol: TCP
          port: {{ $port }}
    {{- end }}
    {{- end }}
    {{- include "common.dataTier.egress" (dict "uses" .Values.uses "context" .) | nindent 4 }}
    {{- with .Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
