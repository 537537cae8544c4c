"""Task names and lock keys: shared by whoever defers a job and the worker that runs it."""

CRM_EVENT_TASK = "crm.event.process"
QBO_CHANGE_TASK = "qbo.change.process"
QBO_BATCH_TASK = "qbo.changes.batch"
SWEEP_STALLED_TASK = "jobs.sweep_stalled"
INITIAL_IMPORT_TASK = "qbo.import.initial"
DELIVER_CALLBACKS_TASK = "crm.callbacks.deliver"
TOKEN_KEEPALIVE_TASK = "qbo.tokens.keepalive"  # noqa: S105 - a task name
PURGE_TASK = "retention.purge"
RESUME_TASK = "sync.resume.requeue"
CDC_POLL_TASK = "qbo.cdc.poll"
CDC_POLL_ALL_TASK = "qbo.cdc.poll_all"
HIGHLEVEL_POLL_ALL_TASK = "highlevel.poll_all"
DOCTOR_TASK = "connections.doctor.run"
DOCTOR_DAILY_TASK = "connections.doctor.daily"


def crm_object_lock(location_id: str, object_kind: str, object_id: str) -> str:
    # Jobs sharing a lock run one at a time in order: the events of one CRM object never race.
    return f"crm:{location_id}:{object_kind}:{object_id}"


def qbo_batch_lock(realm_id: str, entity: str) -> str:
    # One batch job of a realm's entity runs at a time: a flood holds one worker slot per entity.
    return f"qbo-batch:{realm_id}:{entity}"


def resume_lock(location_id: str) -> str:
    # One resume job of a location runs at a time, and one more may wait (queueing lock).
    return f"resume:{location_id}"


def cdc_lock(connection_id: str) -> str:
    return f"cdc:{connection_id}"


def doctor_lock(location_id: str) -> str:
    # One doctor run of a location at a time, and one more waiting (queueing lock).
    return f"doctor:{location_id}"
