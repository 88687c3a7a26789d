"""The JSON the routes answer, as types for the OpenAPI document only.

They describe what `presenters.py` and the routes build; nothing validates or filters an answer with
them (the bytes on the wire are the presenters', as Rocket.Chat clients expect them). `NotRequired` marks
a key that is left out when it has no value, as Rocket.Chat leaves it out; `| None` one that is there
as null. Objects may carry keys beyond those listed. tests/integration/test_openapi_answers.py checks
real answers against these schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Success = Literal[True]

# --- the entities (presenters.py) -------------------------------------------------------------------


class Email(TypedDict):
    address: str
    verified: bool


class User(TypedDict):
    _id: str
    username: str
    name: str | None
    emails: NotRequired[Annotated[list[Email], Field(description="left out for who may not see them")]]
    roles: list[str]
    active: bool
    status: Annotated[str, Field(description="online, away, busy or offline")]
    statusLivechat: Annotated[str, Field(description="available or not-available")]
    type: str
    statusText: NotRequired[str]


class UserRef(TypedDict):
    _id: str
    username: str
    name: NotRequired[str | None]


class VisitorRef(TypedDict):
    _id: str
    username: str
    token: NotRequired[Annotated[str, Field(description="only in the visitor's own answers")]]
    status: str


class Visitor(TypedDict):
    _id: str
    token: NotRequired[Annotated[str, Field(description="only in the visitor's own answers")]]
    username: str
    name: str | None
    ts: Timestamp
    _updatedAt: Timestamp
    department: str | None
    visitorEmails: list[dict[str, str]]
    phone: list[dict[str, str]] | None
    livechatData: dict[str, Any]
    ip: str | None
    host: str | None
    userAgent: str | None
    status: str


class ServedBy(TypedDict):
    _id: str
    username: str
    ts: Timestamp


class ClosedBy(TypedDict):
    _id: str | None
    username: str | None


class Room(TypedDict):
    _id: str
    t: Literal["l"]
    fname: str | None
    ts: Timestamp
    lm: Timestamp | None
    msgs: int
    open: bool
    status: str
    v: VisitorRef
    departmentId: str | None
    tags: list[str]
    livechatData: dict[str, Any]
    topic: str | None
    source: dict[str, Any]
    _updatedAt: Timestamp
    servedBy: NotRequired[ServedBy]
    crmData: NotRequired[Annotated[Any, Field(description="the CRM's answer to the last delivery")]]
    surveyFeedback: NotRequired[dict[str, str]]
    closedAt: NotRequired[Timestamp]
    closedBy: NotRequired[ClosedBy]
    closer: NotRequired[str | None]
    closingComment: NotRequired[str | None]


class Message(TypedDict):
    _id: str
    rid: str
    msg: str
    ts: Timestamp
    u: UserRef
    _updatedAt: Timestamp
    token: NotRequired[Annotated[str, Field(description="a visitor's message, to the visitor")]]
    agentId: NotRequired[str]
    t: NotRequired[Annotated[str, Field(description="a system message's type")]]
    closingMessage: NotRequired[Literal[True]]
    navigation: NotRequired[dict[str, Any]]
    transferData: NotRequired[dict[str, Any]]
    editedAt: NotRequired[Timestamp]
    editedBy: NotRequired[UserRef]


class Inquiry(TypedDict):
    _id: str
    rid: str
    t: Literal["l"]
    name: str | None
    message: str | None
    status: str
    department: str | None
    ts: Timestamp
    queuedAt: Timestamp
    takenAt: Timestamp | None
    v: VisitorRef
    _updatedAt: Timestamp


class Department(TypedDict):
    _id: str
    name: str
    description: str | None
    email: str | None
    enabled: bool
    showOnRegistration: bool
    showOnOfflineForm: bool
    numAgents: int
    type: Literal["d"]
    _updatedAt: Timestamp


class DepartmentAgent(TypedDict):
    _id: str
    agentId: str
    departmentId: str
    departmentEnabled: bool
    username: str
    name: str | None
    statusLivechat: str
    count: int
    order: int
    departmentName: NotRequired[str]


class PublicAgent(TypedDict):
    """What a visitor may see of an agent: `{hiddenInfo: true}`, or its names (and e-mails)."""

    _id: NotRequired[str]
    username: NotRequired[str]
    name: NotRequired[str | None]
    emails: NotRequired[list[Email]]
    hiddenInfo: NotRequired[Annotated[Literal[True], Field(description="Livechat_show_agent_info off")]]


class Permission(TypedDict):
    _id: str
    roles: list[str]
    _updatedAt: Timestamp


class Setting(TypedDict):
    _id: str
    value: Any


# --- answers ----------------------------------------------------------------------------------------


class Done(TypedDict):
    """Rocket.Chat's answer of a call that returns nothing else."""

    success: Success


class Page(TypedDict):
    count: int
    offset: int
    total: int
    success: Success


class UserAnswer(TypedDict):
    user: User
    success: Success


class UsersPage(Page):
    users: list[User]


class Me(User):
    success: Success


class LoginData(TypedDict):
    userId: str
    authToken: str
    me: User


class LoginAnswer(TypedDict):
    status: Literal["success"]
    data: LoginData


class LogoutData(TypedDict):
    message: str


class LogoutAnswer(TypedDict):
    status: Literal["success"]
    data: LogoutData


class OtherClientsLoggedOut(TypedDict):
    token: str
    tokenExpires: Timestamp
    success: Success


class BuildInfo(TypedDict):
    platform: str
    arch: str
    osRelease: str
    cpus: int
    pythonVersion: str


class ServerDetails(TypedDict):
    version: str
    build: BuildInfo
    omnihook: dict[str, str]


class ServerInfo(TypedDict):
    """The version without its patch; with view-statistics the full version and `info`."""

    version: str
    info: NotRequired[ServerDetails]
    success: Success


class UserStatus(TypedDict):
    _id: str
    status: str
    connectionStatus: NotRequired[Annotated[str, Field(description="only about oneself")]]
    success: Success


class PermissionsList(TypedDict):
    update: list[Permission]
    remove: list[Permission]
    success: Success


class PermissionsUpdated(TypedDict):
    permissions: list[Permission]
    success: Success


class AgentStatus(TypedDict):
    status: str
    success: Success


class DepartmentAnswer(TypedDict):
    department: Department
    agents: NotRequired[
        Annotated[list[DepartmentAgent], Field(description="left out with includeAgents=false")]
    ]
    success: Success


class DepartmentWithAgents(Department):
    agents: list[DepartmentAgent]


class DepartmentsPage(Page):
    departments: list[DepartmentWithAgents]


class QueuedInquiry(TypedDict):
    _id: str
    rid: str
    name: str | None
    ts: Timestamp
    status: str
    department: NotRequired[str]


class InquiriesListPage(Page):
    inquiries: list[QueuedInquiry]


class InquiriesPage(Page):
    inquiries: list[Inquiry]


class InquiryAnswer(TypedDict):
    inquiry: Inquiry
    success: Success


class MaybeInquiry(TypedDict):
    inquiry: Inquiry | None
    success: Success


class SettingsPage(Page):
    settings: list[Setting]


class SettingAnswer(TypedDict):
    _id: str
    value: Any
    success: Success


# --- the visitor's API ------------------------------------------------------------------------------


class WidgetSettings(TypedDict):
    registrationForm: bool
    allowSwitchingDepartments: bool
    nameFieldRegistrationForm: bool
    emailFieldRegistrationForm: bool
    displayOfflineForm: bool
    videoCall: bool
    fileUpload: bool
    language: str
    transcript: bool
    historyMonitorType: str
    forceAcceptDataProcessingConsent: bool
    showConnecting: bool
    agentHiddenInfo: bool
    clearLocalStorageWhenChatEnded: bool
    limitTextLength: Annotated[int | bool, Field(description="false, or the most characters a message has")]
    hiddenSystemMessages: list[str]
    hideWatermark: bool
    hideExpandChat: bool
    visitorsCanCloseChat: bool


class WidgetTheme(TypedDict):
    title: str
    color: str
    offlineTitle: str
    offlineColor: str
    position: str
    background: str
    actionLinks: list[Any]


class WidgetDepartment(TypedDict):
    _id: str
    name: str
    showOnRegistration: bool
    showOnOfflineForm: bool


class WidgetConfig(TypedDict):
    """Rocket.Chat's widget configuration: only `enabled: false` while Livechat_enabled is off."""

    enabled: bool
    settings: NotRequired[WidgetSettings]
    theme: NotRequired[WidgetTheme]
    messages: NotRequired[dict[str, str]]
    survey: NotRequired[dict[str, list[str]]]
    triggers: NotRequired[list[Any]]
    departments: NotRequired[list[WidgetDepartment]]
    resources: NotRequired[dict[str, Any]]
    online: NotRequired[bool]
    guest: NotRequired[Annotated[Visitor, Field(description="with `token`: that visitor")]]
    room: NotRequired[Annotated[Room, Field(description="with `token`: the visitor's open room")]]
    agent: NotRequired[Annotated[PublicAgent, Field(description="the agent serving that room")]]


class ConfigAnswer(TypedDict):
    config: WidgetConfig
    success: Success


class VisitorAnswer(TypedDict):
    visitor: Visitor
    success: Success


class ForgottenVisitor(TypedDict):
    _id: str
    ts: Timestamp


class VisitorForgotten(TypedDict):
    visitor: ForgottenVisitor
    success: Success


class RoomAnswer(TypedDict):
    room: Room
    success: Success


class VisitorRoom(RoomAnswer):
    newRoom: bool


class RoomsAnswer(TypedDict):
    rooms: list[Room]
    success: Success


class RoomsPage(Page):
    rooms: list[Room]


class MessageAnswer(TypedDict):
    message: Message
    success: Success


class MessagesAnswer(TypedDict):
    messages: list[Message]
    success: Success


class DeletedMessageRef(TypedDict):
    _id: str
    ts: Timestamp


class VisitorMessageDeleted(TypedDict):
    message: DeletedMessageRef
    success: Success


class VisitorRoomClosed(TypedDict):
    rid: str
    comment: str | None
    success: Success


class OfflineMessageSent(TypedDict):
    message: str
    success: Success


class CustomField(TypedDict):
    key: str
    value: str
    overwrite: bool


class CustomFieldAnswer(TypedDict):
    field: CustomField
    success: Success


class SavedCustomField(TypedDict):
    Key: str
    value: str
    overwrite: bool


class CustomFieldsAnswer(TypedDict):
    fields: Annotated[list[SavedCustomField], Field(description="Rocket.Chat's capital-K `Key`")]
    success: Success


class PageVisited(TypedDict):
    page: NotRequired[Annotated[Message, Field(description="the navigation message, when one was recorded")]]
    success: Success


class AgentAnswer(TypedDict):
    agent: PublicAgent
    success: Success


class MaybeAgent(TypedDict):
    agent: NotRequired[Annotated[PublicAgent, Field(description="left out when no agent would take it")]]
    success: Success


class VisitorStatus(TypedDict):
    token: str
    status: str
    success: Success


class SurveySaved(TypedDict):
    rid: str
    data: dict[str, Any]
    success: Success


# --- the agent's API --------------------------------------------------------------------------------


class DeletedRef(TypedDict):
    _id: str
    _deletedAt: Timestamp


class SyncedMessages(TypedDict):
    updated: list[Message]
    deleted: list[DeletedRef]


class SyncAnswer(TypedDict):
    result: SyncedMessages
    success: Success


class DepartmentAgentsPage(Page):
    agents: list[DepartmentAgent]


class AgentDepartments(TypedDict):
    departments: list[DepartmentAgent]
    success: Success


class TransferHistoryPage(Page):
    history: list[dict[str, Any]]


class DeletedMessage(TypedDict):
    _id: str
    rid: str
    u: UserRef


class ChatDeleted(TypedDict):
    _id: str
    ts: Annotated[str, Field(description="milliseconds since the epoch, as text (Rocket.Chat's)")]
    message: DeletedMessage
    success: Success


# --- settings of the workspace and the CRM integration ------------------------------------------------


class AppearanceSetting(TypedDict):
    _id: str
    value: Any
    type: str
    packageValue: Any
    public: bool
    group: str
    section: str
    values: NotRequired[list[dict[str, str]]]


class AppearanceAnswer(TypedDict):
    appearance: list[AppearanceSetting]
    success: Success


class IntegrationSetting(TypedDict):
    _id: str
    value: Annotated[Any, Field(description="a secret's mask once set: secrets are write-only")]
    type: str
    packageValue: Any
    group: str
    section: str
    i18nLabel: str
    public: bool
    secret: bool


class IntegrationSettingsAnswer(TypedDict):
    settings: list[IntegrationSetting]
    success: Success


# --- omnihook's webhook API --------------------------------------------------------------------------


class Endpoint(TypedDict):
    _id: str
    name: str
    url: str
    format: Literal["standard", "rocketchat"]
    eventTypes: list[str]
    timeoutMs: int
    maxInFlight: int
    ordered: bool
    enabled: bool
    retrySchedule: NotRequired[
        Annotated[list[int], Field(description="standard: seconds after each failure")]
    ]
    maxRetries: NotRequired[Annotated[int, Field(description="rocketchat: retries after a failure")]]
    retryDelayMs: NotRequired[Annotated[int, Field(description="rocketchat: delay between retries")]]
    secret: Annotated[
        str | None, Field(description="whole at creation and rotation only; else masked, or null if none")
    ]
    previousSecretExpiresAt: Annotated[
        Timestamp | None, Field(description="until then the replaced secret signs too")
    ]
    managedByIntegrationSettings: bool
    disabledReason: str | None
    failingSince: NotRequired[
        Annotated[Timestamp | None, Field(description="since when every attempt failed")]
    ]
    heldDeliveries: NotRequired[Annotated[int, Field(description="waiting while it is disabled")]]
    createdAt: Timestamp
    updatedAt: Timestamp


class EndpointAnswer(TypedDict):
    endpoint: Endpoint
    success: Success


class EndpointsAnswer(TypedDict):
    endpoints: list[Endpoint]
    count: int
    success: Success


class EndpointHealth(TypedDict):
    attempts: int
    succeeded: int
    failed: int
    successRate: Annotated[float | None, Field(description="0 to 1; null without attempts")]
    p50Ms: int | None
    p99Ms: int | None


class EndpointStats(TypedDict):
    """Each endpoint's attempts started in the window (by endpoint id)."""

    since: Timestamp
    windowHours: int
    endpoints: dict[str, EndpointHealth]
    success: Success


class ExampleDelivery(TypedDict):
    _id: str
    eventId: str
    endpointId: str
    type: str


class ExampleSent(TypedDict):
    delivery: ExampleDelivery
    success: Success


class EventTypeSchemas(TypedDict):
    rocketchat: Annotated[dict[str, Any], Field(description="JSON Schema of the Rocket.Chat-format body")]
    standard: Annotated[dict[str, Any], Field(description="JSON Schema of the Standard Webhooks body")]


class EventTypeExamples(TypedDict):
    rocketchat: dict[str, Any]
    standard: dict[str, Any]


class EventTypeEntry(TypedDict):
    type: str
    description: str
    rocketChatSettings: Annotated[list[str], Field(description="the settings that turn it on for the CRM")]
    subscriptionKeys: Annotated[list[str], Field(description="the eventTypes an endpoint subscribes with")]
    schemas: EventTypeSchemas
    examples: Annotated[EventTypeExamples, Field(description="a sample body in each format (Send example's)")]


class EventTypesAnswer(TypedDict):
    eventTypes: list[EventTypeEntry]
    success: Success


class Health(TypedDict):
    status: Literal["ok", "error"]
    database: str
    dispatcher: NotRequired[Literal["running", "off"]]


class Delivery(TypedDict):
    """One event to one endpoint."""

    _id: Annotated[str, Field(description="stable across retries: the receiver's deduplication key")]
    eventId: str
    endpointId: str
    endpointName: str | None
    endpointUrl: str | None
    type: str
    roomId: str | None
    status: Annotated[str, Field(description="pending, delivered or dead")]
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: Annotated[Timestamp | None, Field(description="while pending")]
    heldBehind: Annotated[
        str | None, Field(description="the older pending delivery of its room (same endpoint) it waits for")
    ]
    createdAt: Timestamp
    deliveredAt: Timestamp | None


class DeliveriesPage(TypedDict):
    """Newest first; `nextCursor` (as `before`) gives the next page in constant time."""

    deliveries: list[Delivery]
    count: int
    offset: int
    total: Annotated[int, Field(description="exact up to 10,000")]
    totalCapped: Annotated[bool, Field(description="there are more than `total`")]
    nextCursor: int | None
    success: Success


class Attempt(TypedDict):
    attempt: int
    startedAt: Timestamp
    durationMs: int | None
    statusCode: int | None
    error: str | None
    requestHeaders: Annotated[dict[str, Any] | None, Field(description="without secrets")]
    responseHeaders: dict[str, Any] | None
    responseBody: Annotated[str | None, Field(description="up to a cap")]


class DeliveryDetail(Delivery):
    payload: Annotated[dict[str, Any], Field(description="the Rocket.Chat-format payload, as rendered")]
    attemptsLog: list[Attempt]


class DeliveryAnswer(TypedDict):
    delivery: DeliveryDetail
    success: Success
