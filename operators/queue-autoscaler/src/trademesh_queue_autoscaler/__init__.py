"""kopf operator: scales any workload with a /scale subresource on Kafka consumer-group lag."""

GROUP = "autoscaling.trademesh.dev"
VERSION = "v1alpha1"
PLURAL = "queueautoscalers"
KIND = "QueueAutoscaler"
