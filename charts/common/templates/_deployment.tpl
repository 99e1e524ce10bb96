{{- define "common.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    trademesh.io/color: {{ include "common.color" . }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "common.podLabels" . | nindent 8 }}
        {{- include "common.meshPodLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := include "common.meshPodAnnotations" . | trim }}
      {{- if or .Values.podAnnotations $annotations }}
      annotations:
        {{- with $annotations }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "common.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | default 30 }}
      securityContext:
        {{- include "common.podSecurityContext" (dict "overrides" .Values.podSecurityContext) | nindent 8 }}
      {{- include "common.imagePullSecrets" . | nindent 6 }}
      {{- include "common.topologySpread" . | nindent 6 }}
      {{- include "common.scheduling" . | nindent 6 }}
      containers:
        - name: {{ .Values.component }}
          image: {{ include "common.image" . | quote }}
          imagePullPolicy: {{ include "common.imagePullPolicy" . }}
          {{- with .Values.command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.ports.http }}
              protocol: TCP
            {{- if .Values.ports.grpc }}
            - name: grpc
              containerPort: {{ .Values.ports.grpc }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "common.env" . | nindent 12 }}
          {{- include "common.probes" . | nindent 10 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "common.containerSecurityContext" (dict "overrides" .Values.securityContext) | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if include "common.appTlsOn" . }}
            - name: tls
              mountPath: /etc/trademesh/tls
              readOnly: true
            - name: authz
              mountPath: /etc/trademesh/authz
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit | default "64Mi" }}
        {{- if include "common.appTlsOn" . }}
        # A projected Secret (not subPath) so that renewed certificates reach the running
        # process, which reloads them.
        - name: tls
          secret:
            secretName: {{ include "common.fullname" . }}-tls
        - name: authz
          configMap:
            name: {{ include "common.fullnameFor" (dict "name" "authz-policy" "context" .) }}
        {{- end }}
{{- end -}}
