"""The consumer lag gauge reads librdkafka's statistics: last stable offset minus position."""

import json

from prometheus_client import REGISTRY

from trademesh_common.kafka import consumer_config, record_consumer_lag


def _lag(group: str, topic: str, partition: str) -> float | None:
    return REGISTRY.get_sample_value(
        "trademesh_kafka_consumer_lag_records",
        {"group": group, "topic": topic, "partition": partition},
    )


def test_lag_is_the_distance_from_the_position_to_the_last_stable_offset():
    statistics = {
        "topics": {
            "orders": {
                "partitions": {
                    "0": {"ls_offset": 120, "app_offset": 100},
                    "1": {"ls_offset": 7, "app_offset": 7},
                    # Not fetched yet: nothing to say.
                    "2": {"ls_offset": -1, "app_offset": -1001},
                    # librdkafka's internal unassigned partition.
                    "-1": {"ls_offset": 5, "app_offset": 0},
                }
            }
        }
    }
    record_consumer_lag("lag-test", json.dumps(statistics))
    assert _lag("lag-test", "orders", "0") == 20
    assert _lag("lag-test", "orders", "1") == 0
    assert _lag("lag-test", "orders", "2") is None
    assert _lag("lag-test", "orders", "-1") is None


def test_every_consumer_reports_statistics_for_the_lag_gauge():
    config = consumer_config("127.0.0.1:9092", "some-group")
    assert config["statistics.interval.ms"] > 0
    assert callable(config["stats_cb"])
