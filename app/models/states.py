"""Status vocabularies shared by the tables and the API."""

from enum import StrEnum


class ConnectionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class InboundState(StrEnum):
    """Processing state of an inbound CRM event or QBO change."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class SyncState(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    SKIPPED = "skipped"
    FAILED = "failed"


class Direction(StrEnum):
    CRM_TO_QBO = "crm_to_qbo"
    QBO_TO_CRM = "qbo_to_crm"


class CallbackState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class ImportState(StrEnum):
    """Where a connection's initial import is (stored as text, see `Connection.import_state`)."""

    QUEUED = "queued"  # at connect, until the importer starts
    RUNNING = "running"
    DONE = "done"
    RETRYING = "retrying"  # the job raised and is retried with backoff
    PAUSED = "paused"  # the connection is not active; a reconnect queues the import again
    FAILED = "failed"  # a permanent QBO error; not retried


class LinkOrigin(StrEnum):
    CRM = "crm"
    QBO = "qbo"
