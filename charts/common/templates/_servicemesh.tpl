{{/*
Optional service-mesh mode (global.serviceMesh.provider: linkerd | istio; SECURITY.md has
the trade-offs). The mesh's proxy gives each pod a workload identity and mutual TLS; what
each service admits on gRPC is the chart's call graph (callers.grpc), as in its
NetworkPolicy. Usually with application TLS off (global.certManager.enabled=false); if it
stays on, Linkerd passes the gRPC port through untouched (opaque).
*/}}
{{- define "common.meshProvider" -}}
{{- ((.Values.global).serviceMesh).provider | default "none" -}}
{{- end -}}

{{/* Pod labels: Istio injects its sidecar into pods labelled so. */}}
{{- define "common.meshPodLabels" -}}
{{- if eq (include "common.meshProvider" .) "istio" }}
sidecar.istio.io/inject: "true"
{{- end }}
{{- end -}}

{{- define "common.meshPodAnnotations" -}}
{{- if eq (include "common.meshProvider" .) "linkerd" }}
linkerd.io/inject: enabled
{{- if and .Values.ports.grpc (include "common.appTlsOn" .) }}
config.linkerd.io/opaque-ports: {{ .Values.ports.grpc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The mesh's authorization of gRPC callers: only the components in callers.grpc. */}}
{{- define "common.meshAuthorization" -}}
{{- $provider := include "common.meshProvider" . }}
{{- if and .Values.ports.grpc (ne $provider "none") }}
{{- $name := include "common.fullname" . }}
{{- if eq $provider "istio" }}
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  action: ALLOW
  rules:
    # Probes and metrics (the NetworkPolicy narrows who reaches them).
    - to:
        - operation:
            ports: [{{ .Values.ports.http | quote }}]
    {{- with .Values.callers.grpc }}
    - from:
        - source:
            principals:
              {{- range . }}
              - cluster.local/ns/{{ $.Release.Namespace }}/sa/{{ include "common.fullnameFor" (dict "name" . "context" $) }}
              {{- end }}
      to:
        - operation:
            ports: [{{ $.Values.ports.grpc | quote }}]
    {{- end }}
{{- else if eq $provider "linkerd" }}
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata:
  name: {{ $name }}-grpc
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  port: grpc
  proxyProtocol: {{ if include "common.appTlsOn" . }}opaque{{ else }}gRPC{{ end }}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata:
  name: {{ $name }}-callers
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  identities:
    {{- range .Values.callers.grpc }}
    - {{ include "common.fullnameFor" (dict "name" . "context" $) }}.{{ $.Release.Namespace }}.serviceaccount.identity.linkerd.cluster.local
    {{- else }}
    []
    {{- end }}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: {{ $name }}-grpc
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  targetRef:
    group: policy.linkerd.io
    kind: Server
    name: {{ $name }}-grpc
  requiredAuthenticationRefs:
    - group: policy.linkerd.io
      kind: MeshTLSAuthentication
      name: {{ $name }}-callers
{{- end }}
{{- end }}
{{- end -}}
