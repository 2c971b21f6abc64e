"""Side by side, with replay paused on the real replica: the spec's hand-written 80/20 random
router (Example 2, verbatim) returns stale reads; the same split declared on DatabaseConfig
returns none. The spec's router also shows that user routers keep working as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.replica_tools import replay_paused, wait_for_replica
from tests.support.spec_page import MANAGE_PY, SpecProject, block, run_python

EXAMPLE_2 = "Example 2: Primary + Read Replica (Performance Scaling)"
PROBE = Path(__file__).resolve().parents[1] / "support" / "staleness_probe.py"
SPEC_REPLICA_LINE = (
    '        databases["replica"] = DatabaseConfig.from_url(url=env.database.url_replica)\n'
)
OUR_REPLICA_LINE = (
    '        databases["replica"] = DatabaseConfig.from_url(\n'
    '            url=env.database.url_replica, replica_of="default", read_weight=0.8\n'
    "        )\n"
)
ROUNDS = 200


def project(root: Path, ours: bool) -> Path:
    config = block("python", EXAMPLE_2, "# api/config.py")
    if ours:
        assert SPEC_REPLICA_LINE in config
        config = config.replace(SPEC_REPLICA_LINE, OUR_REPLICA_LINE).replace(
            '        database_routers = ["myapp.routers.ReadReplicaRouter"]\n', ""
        )
    spec = SpecProject(root)
    spec.write("manage.py", MANAGE_PY)
    spec.write_project(
        block("python", EXAMPLE_2, "# api/environment/loader.py"),
        config,
        routers=block("python", EXAMPLE_2, "# myapp/routers.py"),
    )
    return root


def stale_reads(folder: Path, env: dict[str, str]) -> int:
    output = run_python(str(PROBE), str(ROUNDS), cwd=folder, env=env)
    stale, _, rounds = output.strip().removeprefix("stale ").partition(" of ")
    assert int(rounds) == ROUNDS
    return int(stale)


@pytest.mark.postgres
@pytest.mark.replica
def test_random_router_reads_stale_rows_ours_reads_none(
    tmp_path: Path, new_postgres_database
) -> None:
    url = new_postgres_database()
    env = {"DATABASE__URL": url, "DATABASE__URL_REPLICA": url.replace(":5432/", ":5433/")}
    specs = project(tmp_path / "spec", ours=False)
    ours = project(tmp_path / "ours", ours=True)
    run_python("manage.py", "migrate", "--noinput", cwd=specs, env=env)
    wait_for_replica()
    with replay_paused():
        spec_stale = stale_reads(specs, env)
        our_stale = stale_reads(ours, env)
    assert our_stale == 0
    # The spec's router sends 80% of reads to the paused replica: those reads miss their row.
    assert 0.7 * ROUNDS <= spec_stale <= 0.9 * ROUNDS
