{{/*
Database migrations as a Helm hook Job, run after install and after every upgrade (the
in-cluster PostgreSQL and the database itself only exist once the release's own objects
and the database job are in place). Migrations must therefore be backward compatible with
the previous release's code (expand, then contract). The convention is that each image runs
them with `python -m trademesh_<component> migrate`.
*/}}
{{- define "common.migrationJob" -}}
{{- if and .Values.migrations.enabled .Values.uses.postgres }}
{{- $name := printf "%s-migrate" (include "common.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- $job := printf "%s-migrate" .Values.component }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labelsFor" (dict "name" $job "component" "migration" "version" (.Values.image.tag | default .Chart.AppVersion) "context" .) | nindent 4 }}
  annotations:
    helm.sh/hook: post-install,post-upgrade
    # After the database job (-10) in the same phase.
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migrations.backoffLimit | default 6 }}
  activeDeadlineSeconds: {{ .Values.migrations.activeDeadlineSeconds | default 600 }}
  template:
    metadata:
      labels:
        {{- include "common.podLabelsFor" (dict "name" $job "component" "migration" "version" (.Values.image.tag | default .Chart.AppVersion) "uses" (dict "postgres" true) "context" .) | nindent 8 }}
    spec:
      restartPolicy: OnFailure
      serviceAccountName: {{ include "common.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "common.podSecurityContext" (dict "overrides" .Values.podSecurityContext) | nindent 8 }}
      {{- include "common.imagePullSecrets" . | nindent 6 }}
      containers:
        - name: migrate
          image: {{ include "common.image" . | quote }}
          imagePullPolicy: {{ include "common.imagePullPolicy" . }}
          command:
            {{- toYaml (.Values.migrations.command | default (list "python" "-m" (printf "trademesh_%s" .Values.component) "migrate")) | nindent 12 }}
          env:
            - name: TRADEMESH_SERVICE_NAME
              value: {{ $job | quote }}
            {{- include "common.dataTier.env" (dict "uses" (dict "postgres" true) "component" .Values.component "context" .) | nindent 12 }}
          resources:
            {{- toYaml .Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- include "common.containerSecurityContext" (dict "overrides" .Values.securityContext) | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- if include "common.networkPolicyOn" . }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.selectorLabelsFor" (dict "name" $job "context" .) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  egress:
    {{- include "common.networkPolicy.baseEgress" . | nindent 4 }}
    {{- include "common.dataTier.egress" (dict "uses" (dict "postgres" true) "context" .) | nindent 4 }}
{{- end }}
{{- end }}
{{- end -}}
