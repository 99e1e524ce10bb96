"""Every dashboard picks its Prometheus through the `datasource` variable, everywhere."""

import json

import pytest

from trademesh_observability import dashboards


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_every_panel_and_query_uses_the_datasource_variable(name: str):
    board = json.loads(dashboards.render(name))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()


def test_dashboard_uids_are_unique_and_stable():
    uids = [json.loads(dashboards.render(name))["uid"] for name in dashboards.DASHBOARDS]
    assert len(set(uids)) == len(uids)
    assert "trademesh-slo-overview" in uids  # the alerts' annotations point at it
