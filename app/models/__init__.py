"""Every table, imported here so Alembic sees the whole schema."""

from app.db.base import Base
from app.models.company_release import CompanyRelease
from app.models.connection import Connection
from app.models.crm_callback import CrmCallback
from app.models.crm_event import CrmEvent
from app.models.doctor_result import DoctorResult
from app.models.entity_link import EntityLink
from app.models.highlevel_location import HighLevelLocation
from app.models.oauth_state import OAuthState
from app.models.qbo_change import QboChange
from app.models.qbo_request import QboRequestSlot
from app.models.reconciliation import ReconciliationRun, ResyncRequest
from app.models.review_request import ReviewRequest
from app.models.sync_log import SyncLogEntry
from app.models.write_intent import WriteIntent

__all__ = [
    "Base",
    "CompanyRelease",
    "Connection",
    "CrmCallback",
    "CrmEvent",
    "DoctorResult",
    "EntityLink",
    "HighLevelLocation",
    "OAuthState",
    "QboChange",
    "QboRequestSlot",
    "ReconciliationRun",
    "ResyncRequest",
    "ReviewRequest",
    "SyncLogEntry",
    "WriteIntent",
]
