"""`promtool check rules` on every generated rule file, and `promtool test rules` on
every unit-test file: each burn-rate alert fires on synthetic series when the
workbook's arithmetic says so, and stays quiet otherwise.

promtool comes from Debian's `prometheus` package (`python -m trademesh_devstack install`).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from trademesh_observability.generate import RULE_TESTS_DIR, RULES_DIR, find_root

ROOT = find_root()
RULE_TEST_FILES = sorted((ROOT / RULE_TESTS_DIR).glob("*.test.yaml"))


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run `python -m trademesh_devstack install`"
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_every_rule_file_passes_promtool_check():
    rule_files = sorted(p.name for p in (ROOT / RULES_DIR).glob("*.rules.yaml"))
    assert rule_files
    result = _promtool("check", "rules", *rule_files, cwd=ROOT / RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_slo_has_page_and_ticket_unit_tests():
    slos = {p.name.removesuffix(".rules.yaml") for p in (ROOT / RULES_DIR).glob("*.rules.yaml")}
    tested = {p.name.split(".")[0] for p in RULE_TEST_FILES}
    assert slos == tested
    assert len(RULE_TEST_FILES) == 2 * len(slos)


@pytest.mark.slow
@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda p: p.name)
def test_alerts_fire_on_time_and_stay_quiet_otherwise(test_file: Path):
    result = _promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
