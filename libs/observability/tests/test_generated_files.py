"""The committed rules, rule tests and dashboards are what the generator makes of the specs."""

from trademesh_observability.generate import find_root, stale_files


def test_generated_observability_files_are_up_to_date():
    stale = stale_files(find_root())
    assert stale == [], (
        "out of date (run `uv run --frozen python -m trademesh_observability generate`): "
        + ", ".join(map(str, stale))
    )
