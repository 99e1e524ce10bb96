{{/*
Where the data tier is. In-cluster (the default) it is the stack's own Kafka, Redis and
PostgreSQL, reached by name, with credentials in Secrets the owning release generated.
External, it is whatever global.<dependency>.external names, with credentials from a Secret
the operator made. Services read the same keys either way: redis-url and <component>-dsn.
*/}}

{{- define "common.dataTier.ports" -}}
kafka: 9092
redis: 6379
postgres: 5432
{{- end -}}

{{/* The global.<dependency> block; dict "dependency" D "context" $ */}}
{{- define "common.dataTier.external" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $block := get $global .dependency | default dict -}}
{{- toYaml (get $block "external" | default dict) -}}
{{- end -}}

{{- define "common.dataTier.isExternal" -}}
{{- $external := include "common.dataTier.external" . | fromYaml -}}
{{- if $external.enabled }}true{{ end -}}
{{- end -}}

{{- define "common.kafka.bootstrap" -}}
{{- printf "%s.%s.svc:9092" (include "common.stackName" (dict "name" "kafka" "context" .)) .Release.Namespace -}}
{{- end -}}

{{- define "common.redis.secretName" -}}
{{- include "common.stackName" (dict "name" "redis" "context" .) -}}
{{- end -}}

{{- define "common.postgres.usersSecretName" -}}
{{- include "common.stackName" (dict "name" "postgres-users" "context" .) -}}
{{- end -}}

{{/* Environment entries for the dependencies the workload uses; dict "uses" U "component" C "context" $ */}}
{{- define "common.dataTier.env" -}}
{{- $ctx := .context -}}
{{- if .uses.kafka }}
{{- $external := include "common.dataTier.external" (dict "dependency" "kafka" "context" $ctx) | fromYaml }}
- name: TRADEMESH_KAFKA_BOOTSTRAP
{{- if not $external.enabled }}
  value: {{ include "common.kafka.bootstrap" $ctx | quote }}
{{- else if $external.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ $external.existingSecret }}
      key: {{ $external.bootstrapKey | default "bootstrap" }}
{{- else }}
  value: {{ required "global.kafka.external.bootstrap or .existingSecret is required when Kafka is external" $external.bootstrap | quote }}
{{- end }}
{{- end }}
{{- if .uses.redis }}
{{- $external := include "common.dataTier.external" (dict "dependency" "redis" "context" $ctx) | fromYaml }}
- name: TRADEMESH_REDIS_URL
  valueFrom:
    secretKeyRef:
{{- if $external.enabled }}
      name: {{ required "global.redis.external.existingSecret is required when Redis is external" $external.existingSecret }}
      key: {{ $external.urlKey | default "redis-url" }}
{{- else }}
      name: {{ include "common.redis.secretName" $ctx }}
      key: redis-url
{{- end }}
{{- end }}
{{- if .uses.postgres }}
{{- $external := include "common.dataTier.external" (dict "dependency" "postgres" "context" $ctx) | fromYaml }}
- name: TRADEMESH_POSTGRES_DSN
  valueFrom:
    secretKeyRef:
{{- if $external.enabled }}
      name: {{ required "global.postgres.external.existingSecret is required when PostgreSQL is external" $external.existingSecret }}
{{- else }}
      name: {{ include "common.postgres.usersSecretName" $ctx }}
{{- end }}
      key: {{ .component }}-dsn
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules to the dependencies used; dict "uses" U "context" $ */}}
{{- define "common.dataTier.egress" -}}
{{- $ctx := .context -}}
{{- $ports := include "common.dataTier.ports" . | fromYaml -}}
{{- range $dependency := list "kafka" "redis" "postgres" }}
{{- if get $.uses $dependency }}
{{- $external := include "common.dataTier.external" (dict "dependency" $dependency "context" $ctx) | fromYaml }}
{{- if $external.enabled }}
- ports:
{{- range ($external.ports | default (list (get $ports $dependency))) }}
    - protocol: TCP
      port: {{ . }}
{{- end }}
{{- with $external.egressTo }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- else }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: {{ $dependency }}
          trademesh.io/stack: {{ include "common.stack" $ctx }}
  ports:
    - protocol: TCP
      port: {{ get $ports $dependency }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
