{{/*
Pod parts that meet Pod Security "restricted": non-root with a fixed numeric user (so the
kubelet can verify it without reading the image), no privilege escalation, every
capability dropped, the runtime's default seccomp profile, and a read-only root filesystem
with an emptyDir on /tmp for what Python and its libraries write there.
*/}}

{{/* dict "user" UID "overrides" MAP */}}
{{- define "common.podSecurityContext" -}}
{{- $base := dict "runAsNonRoot" true "runAsUser" (.user | default 10001) "runAsGroup" (.user | default 10001) "fsGroup" (.user | default 10001) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (.overrides | default dict)) -}}
{{- end -}}

{{/* dict "overrides" MAP */}}
{{- define "common.containerSecurityContext" -}}
{{- $base := dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "runAsNonRoot" true "privileged" false "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (.overrides | default dict)) -}}
{{- end -}}

{{/* registry/repository:tag or @digest; global.image overrides registry, tag and pull policy. */}}
{{- define "common.image" -}}
{{- $global := (.Values.global).image | default dict -}}
{{- $registry := $global.registry | default .Values.image.registry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry }}{{ $repository = printf "%s/%s" $registry $repository }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default $global.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "common.imagePullPolicy" -}}
{{- .Values.image.pullPolicy | default ((.Values.global).image).pullPolicy | default "IfNotPresent" -}}
{{- end -}}

{{- define "common.imagePullSecrets" -}}
{{- with (.Values.global).imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "common.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 2
{{- end -}}

{{/* Spread replicas over zones and nodes; best effort so a small cluster still schedules. */}}
{{- define "common.topologySpread" -}}
{{- if .Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - topologyKey: {{ $key }}
    maxSkew: {{ $.Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "common.selectorLabels" $ | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end }}
{{- end -}}

{{- define "common.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}
