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


class LinkOrigin(StrEnum):
    CRM = "crm"
    QBO = "qbo"
