{{/*
A generated secret that survives upgrades: the value already in the cluster if there is
one (lookup), else a new random one. Nothing secret is ever in values or in git.
dict "secret" NAME "key" KEY "context" $
*/}}
{{- define "trademesh.generatedSecret" -}}
{{- $existing := lookup "v1" "Secret" .context.Release.Namespace .secret -}}
{{- $data := ($existing).data | default dict -}}
{{- if hasKey $data .key -}}
{{- index $data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}

{{- define "trademesh.inCluster" -}}
{{- if and .context.Values.ownsStack (not (include "common.dataTier.isExternal" .)) }}true{{ end -}}
{{- end -}}

{{- define "trademesh.labels" -}}
{{ include "common.labelsFor" (dict "name" .name "component" .component "version" .version "context" .context) }}
{{- end -}}

{{/*
A single-replica StatefulSet for an in-cluster dependency, with its Services and the
NetworkPolicy that admits only the stack's pods labelled trademesh.io/<name>-client.
dict "name" N "component" C "port" P "values" V "container" YAML "volumes" YAML "context" $
*/}}
{{- define "trademesh.dataStatefulSet" -}}
{{- $ctx := .context -}}
{{- $fullname := include "common.stackName" (dict "name" .name "context" $ctx) -}}
{{- $labelArgs := dict "name" .name "component" .component "version" .values.image.tag "context" $ctx -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "trademesh.labels" $labelArgs | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "common.selectorLabelsFor" (dict "name" .name "context" $ctx) | nindent 4 }}
  ports:
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}-headless
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "trademesh.labels" $labelArgs | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "common.selectorLabelsFor" (dict "name" .name "context" $ctx) | nindent 4 }}
  ports:
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $fullname }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "trademesh.labels" $labelArgs | nindent 4 }}
spec:
  serviceName: {{ $fullname }}-headless
  replicas: 1
  selector:
    matchLabels:
      {{- include "common.selectorLabelsFor" (dict "name" .name "context" $ctx) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "trademesh.labels" $labelArgs | nindent 8 }}
      {{- with .checksum }}
      annotations:
        trademesh.io/config-checksum: {{ . }}
      {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "common.podSecurityContext" (dict "user" .values.user) | nindent 8 }}
      {{- include "common.imagePullSecrets" $ctx | nindent 6 }}
      containers:
        - name: {{ .name }}
          image: {{ printf "%s:%s" .values.image.repository .values.image.tag | quote }}
          imagePullPolicy: {{ .values.image.pullPolicy }}
          ports:
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
          {{- .container | nindent 10 }}
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- include "common.containerSecurityContext" dict | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ .dataPath }}
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "common.selectorLabelsFor" (dict "name" .name "context" $ctx) | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with .values.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .values.persistence.size }}
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
  ingress:
    # Every colour's clients: they share this stack's data tier.
    - from:
        - podSelector:
            matchLabels:
              trademesh.io/stack: {{ include "common.stack" $ctx }}
              trademesh.io/{{ .name }}-client: "true"
      ports:
        - protocol: TCP
          port: {{ .port }}
  egress:
    {{- include "common.networkPolicy.dnsEgress" $ctx | nindent 4 }}
{{- end }}
{{- end -}}
