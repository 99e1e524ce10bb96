"""SLO specs to Prometheus rules, and Grafana dashboards, as code."""
