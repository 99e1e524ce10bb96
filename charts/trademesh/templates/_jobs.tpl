{{/*
A stack job, run as a Helm hook after install and upgrade (before the services' migration
jobs, by weight), with a NetworkPolicy that lets it reach DNS and the dependencies it uses.
dict "name" N "values" IMAGE-VALUES "uses" U "container" YAML "volumes" YAML "context" $
*/}}
{{- define "trademesh.stackJob" -}}
{{- $ctx := .context -}}
{{- $fullname := include "common.stackName" (dict "name" .name "context" $ctx) -}}
{{- $labelArgs := dict "name" .name "component" "setup" "version" .values.image.tag "context" $ctx -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $fullname }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "trademesh.labels" $labelArgs | nindent 4 }}
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 10
  activeDeadlineSeconds: 900
  template:
    metadata:
      labels:
        {{- include "common.podLabelsFor" (dict "name" .name "component" "setup" "version" .values.image.tag "uses" .uses "context" $ctx) | nindent 8 }}
    spec:
      restartPolicy: OnFailure
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "common.podSecurityContext" (dict "user" .values.user) | nindent 8 }}
      {{- include "common.imagePullSecrets" $ctx | nindent 6 }}
      containers:
        - name: {{ .name }}
          image: {{ printf "%s:%s" .values.image.repository .values.image.tag | quote }}
          imagePullPolicy: {{ .values.image.pullPolicy }}
          {{- .container | nindent 10 }}
          resources:
            requests: {cpu: 50m, memory: 128Mi}
            limits: {memory: 512Mi}
          securityContext:
            {{- include "common.containerSecurityContext" dict | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: script
              mountPath: /scripts
              readOnly: true
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        - name: script
          configMap:
            name: {{ $fullname }}
{{- if include "common.networkPolicyOn" (dict "Values" (dict "networkPolicy" dict "global" $ctx.Values.global)) }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $fullname }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "trademesh.labels" $labelArgs | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.selectorLabelsFor" (dict "name" .name "context" $ctx) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  egress:
    {{- include "common.networkPolicy.dnsEgress" $ctx | nindent 4 }}
    {{- include "common.dataTier.egress" (dict "uses" .uses "context" $ctx) | nindent 4 }}
{{- end }}
{{- end -}}
