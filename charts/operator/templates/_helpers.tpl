{{/*
The operator's objects use the common library's names and labels: <release>-queue-autoscaler,
the stack and colour labels every pod of the release carries, and trademesh.io/kafka-client
so that the stack's Kafka admits it.
*/}}
{{- define "operator.name" -}}
{{- include "common.fullnameFor" (dict "name" "queue-autoscaler" "context" .) -}}
{{- end -}}

{{- define "operator.labels" -}}
{{ include "common.labelsFor" (dict "name" "queue-autoscaler" "component" "operator" "version" (.Values.image.tag | default .Chart.AppVersion) "context" .) }}
{{- end -}}

{{- define "operator.podLabels" -}}
{{ include "common.podLabelsFor" (dict "name" "queue-autoscaler" "component" "operator" "version" (.Values.image.tag | default .Chart.AppVersion) "uses" (dict "kafka" true) "context" .) }}
{{- end -}}

{{- define "operator.selector" -}}
{{ include "common.selectorLabelsFor" (dict "name" "queue-autoscaler" "context" .) }}
{{- end -}}

{{/* The bootstrap servers the default QueueAutoscalers poll: given, external, or the stack's. */}}
{{- define "operator.kafkaBootstrap" -}}
{{- $external := include "common.dataTier.external" (dict "dependency" "kafka" "context" .) | fromYaml -}}
{{- if .Values.defaultAutoscalers.bootstrapServers -}}
{{- .Values.defaultAutoscalers.bootstrapServers -}}
{{- else if $external.enabled -}}
{{- required "operator.defaultAutoscalers.bootstrapServers is required when Kafka is external and its bootstrap is in a Secret (a QueueAutoscaler names its brokers)" $external.bootstrap -}}
{{- else -}}
{{- include "common.kafka.bootstrap" . -}}
{{- end -}}
{{- end -}}
