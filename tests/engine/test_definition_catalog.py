"""The designer's list of versions (engine.definition_catalog): ticket counts per version in
one grouped query, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy import update

from engine import definition_catalog
from engine import definitions
from engine.db import make_engine
from engine.db import make_session_factory
from engine.models import ProcessInstance
from tests.conftest import NOW
from tests.conftest import WORKFLOWS
from tests.factories import submit

FILES = definitions.read_files(WORKFLOWS)
TIMER = "working_days(3)</bpmn:timeDuration>"


def test_versions_count_open_and_all_tickets_in_one_query(backend_url):
    engine = make_engine(backend_url)
    factory = make_session_factory(engine)
    try:
        submit(factory)  # its instance ends below: counted in all tickets only
        submit(factory)
        with factory.begin() as session:
            session.execute(
                update(ProcessInstance).where(ProcessInstance.id == 1).values(completed=True)
            )
        for days in (2, 4):
            changed = FILES["complaint.bpmn"].replace(TIMER, TIMER.replace("3", str(days)), 1)
            with factory.begin() as session:
                definitions.deploy(
                    session,
                    {**FILES, "complaint.bpmn": changed},
                    actor="user:desainer",
                    now=NOW,
                    note=f"{days} hari",
                )
        submit(factory)
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        with factory() as session:
            rows = definition_catalog.versions(session)

        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1  # whatever the number of versions
        assert [(r.key, r.version, r.note, r.open_tickets, r.all_tickets) for r in rows] == [
            ("complaint", 3, "4 hari", 1, 1),
            ("complaint", 2, "2 hari", 0, 0),
            ("complaint", 1, None, 1, 2),
        ]
        assert rows[0].deployed_by == "user:desainer"
    finally:
        engine.dispose()
