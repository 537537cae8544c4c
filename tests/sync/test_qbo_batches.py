"""Waiting QBO changes are queued as one batch job per realm and entity, never one per change."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, text

from app.db.session import SessionFactory, session_scope
from app.models import Connection
from app.models.states import ConnectionStatus
from app.services import job_names as names
from app.state import AppState
from app.sync.connections import resume
from tests.api.test_qbo_webhooks import deliver, flood, queued_work

REALM = "9130350000000001"


async def test_reconnect_requeues_waiting_changes_as_one_job_per_entity(
    client: httpx.AsyncClient, state: AppState, db: SessionFactory
) -> None:
    """Failure mode 6 (webhook flood): a reconnect with 3,000 waiting QBO changes queues one
    batch job per entity; a job per change would hold back every other location's work."""
    assert (await deliver(client, flood(REALM, 3000))).status_code == 200
    async with session_scope(db) as session:
        # The delivery's own jobs ran while the company was disconnected; the changes wait.
        await session.execute(text("DELETE FROM procrastinate_jobs"))
        session.add(
            Connection(
                id=uuid.uuid4(),
                location_id="loc_flood",
                realm_id=REALM,
                status=ConnectionStatus.ACTIVE,
                company_name="Flood Bakery",
                import_state="done",
            )
        )
    async with session_scope(db) as session:
        connection = (
            await session.execute(select(Connection).where(Connection.realm_id == REALM))
        ).scalar_one()
        await resume.requeue_pending(session, state.job_app, connection)
    work = await queued_work(db)
    assert sorted((task, args["entity"], args["realm_id"]) for task, args in work) == [
        (names.QBO_BATCH_TASK, "Customer", REALM),
        (names.QBO_BATCH_TASK, "Invoice", REALM),
    ]
