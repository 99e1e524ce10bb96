"""etcd's in-memory data dirs: one whose owner died goes at the next claim, live ones stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

from trademesh_devstack.kube import EtcdHome


def _age(path: Path, seconds: float = 600) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _dir(base: Path, name: str, *, owner: bool) -> Path:
    path = base / f"{EtcdHome.PREFIX}{name}"
    path.mkdir()
    if owner:
        (path / ".owner").touch()
    return path


def test_claim_sweeps_only_old_dirs_whose_owner_lock_is_free(tmp_path: Path) -> None:
    live = EtcdHome.claim(tmp_path)
    _age(live.path)
    orphan = _dir(tmp_path, "orphan", owner=True)
    (orphan / "data").mkdir()
    _age(orphan)
    fresh = _dir(tmp_path, "fresh", owner=True)  # may be between mkdtemp and flock
    foreign = _dir(tmp_path, "foreign", owner=False)  # not ours to judge
    _age(foreign)

    second = EtcdHome.claim(tmp_path)

    assert not orphan.exists()
    assert live.path.is_dir() and fresh.is_dir() and foreign.is_dir()
    assert second.path.is_dir() and second.data == second.path / "data"
    live.release()
    second.release()
    assert not live.path.exists() and not second.path.exists()
