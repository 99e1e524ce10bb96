"""The collector configuration is consistent: every pipeline names defined components,
traces come in over OTLP and leave scrubbed of identity headers."""

import yaml

from trademesh_observability.generate import COLLECTOR_CONFIG, find_root


def test_pipelines_use_only_defined_components_and_scrub_identity():
    config = yaml.safe_load((find_root() / COLLECTOR_CONFIG).read_text())
    traces = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(traces[kind]) <= set(config[kind]), kind
    assert "otlp" in traces["receivers"]
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    # The memory limiter first, the batch processor last: the collector's own advice.
    assert traces["processors"][0] == "memory_limiter"
    assert traces["processors"][-1] == "batch"
    scrubbed = {a["key"] for a in config["processors"]["attributes/scrub"]["actions"]}
    assert "http.request.header.authorization" in scrubbed
    assert "attributes/scrub" in traces["processors"]
