"""The catalog of simulated PCO resources: one `Kind` per "<app>/<collection>".

Everything the rest of the sandbox needs to know about a resource lives here, as data: its
JSON:API type, attributes and their value types, what `where`, `order`, `include` and `filter`
accept (the `meta.can_*` lists: for every resource the pipeline reads, the rows of PCO's
reference in `pco_reference` — the same table the client and the extract plans
obey — else copied from the live recordings), `per_page` limits, which
relationships are rendered on every read, how each relationship is resolved, which nested routes
exist, which single-resource `links` PCO prints, and which webhook resource name it emits.

Relationships come in five flavours (`Rel.source`):
  * "stored"  — kept on the record itself (e.g. `Email.person`, `Person.primary_campus`);
  * "reverse" — the records of another collection whose stored relationship `via` points here
                (e.g. `Person.emails` = emails whose `person` is this person);
  * "household_people" — a household's members, in membership order (`Household.people`);
  * "member_of" — households holding a membership for this person (`Person.households`);
  * "organization" — the organization singleton.

Groups memberships, check-ins and calendar owners point at "people/people": the sandbox serves one
person per id across apps (live PCO has per-app Person resources sharing the People id).

A collection loaded under a key this catalog does not know gets an ad-hoc kind (`adhoc_kind`):
served read-only at its app, every attribute queryable and orderable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pco_reference import capability

STR, INT, BOOL, DATE, DATETIME, JSON, FLOAT = "string", "integer", "boolean", "date", "datetime", "json", "float"

# Apps served under /<app>/v2, with the versions PCO publishes (oldest first). The last one is
# the sandbox's default for that app, except webhooks: personal access tokens default to the
# 2018-08-01 webhooks API (`/subscriptions`), so `/webhook_subscriptions` needs the header.
APP_VERSIONS: dict[str, tuple[str, ...]] = {
    "people": ("2018-08-01", "2019-01-14", "2019-10-10", "2020-04-06", "2020-07-22", "2021-08-17",
               "2022-01-05", "2022-01-28", "2022-07-14", "2023-02-15", "2023-03-21", "2024-09-12",
               "2025-03-20", "2025-07-02", "2025-07-17", "2025-11-10", "2026-06-04"),
    "groups": ("2018-08-01", "2023-07-10"),
    "check-ins": ("2018-08-01", "2019-07-17", "2023-04-05", "2024-09-03", "2024-11-07", "2025-05-28"),
    "calendar": ("2018-08-01", "2020-04-08", "2021-07-20", "2022-07-07"),
    "webhooks": ("2018-08-01", "2022-10-20"),
}
DEFAULT_VERSIONS = {app: versions[-1] for app, versions in APP_VERSIONS.items()}
DEFAULT_VERSIONS["webhooks"] = "2018-08-01"

# OAuth scope an app's endpoints require.
APP_SCOPES = {"people": "people", "groups": "groups", "check-ins": "check_ins", "calendar": "calendar",
              "webhooks": "webhooks"}

# People moved Address.street to street_line_1/2 in this version.
ADDRESS_STREET_LINES_SINCE = "2023-03-21"
# Webhooks replaced Subscription with WebhookSubscription in this version.
WEBHOOK_SUBSCRIPTION_SINCE = "2022-10-20"


@dataclass(frozen=True)
class Rel:
    """A relationship of a kind: how to resolve it and how to render it."""

    target: str                 # collection key of the related kind
    to_many: bool
    source: str = "stored"      # stored | reverse | member_of | organization
    via: str | None = None      # for reverse: the child's relationship that points back here
    default: bool = False       # rendered (data only) on every read of this kind
    nested: bool = False        # GET /<coll>/<id>/<name> is a route
    hidden: bool = False        # kept internally, never rendered (HouseholdMembership.household)
    filters: tuple[str, ...] | None = None  # the nested route's can_filter, when it differs


@dataclass(frozen=True)
class Kind:
    """One simulated collection (e.g. "people/emails") and the resource type it holds."""

    key: str
    type: str
    attributes: dict[str, str]
    query_by: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    relationships: dict[str, Rel] = field(default_factory=dict)
    # order keys that sort by a related record's attribute (Membership first_name → its person's)
    order_through: dict[str, tuple[str, str]] = field(default_factory=dict)
    per_page_max: int = 100
    per_page_default: int = 25
    fields_only: frozenset[str] = frozenset()
    top_level: bool = True
    parent_rel: str | None = None           # for kinds only reachable under a parent (memberships)
    single_links: tuple[str, ...] = ()      # extra links on a single GET (beyond self)
    html_link: bool = False                 # Person carries links.html
    link_aliases: dict[str, str] = field(default_factory=dict)  # single link name -> relationship
    render_stored_relationships: bool = False  # non-People kinds: show every stored relationship
    webhook_resource: str | None = None     # e.g. "people.v2.events.email"
    timestamps: bool = True

    app: str = field(init=False, repr=False)
    collection: str = field(init=False, repr=False)
    default_relationships: tuple[str, ...] = field(init=False, repr=False)  # rendered on every read

    def __post_init__(self) -> None:
        app, collection = self.key.split("/", 1)
        object.__setattr__(self, "app", app)
        object.__setattr__(self, "collection", collection)
        object.__setattr__(self, "default_relationships", tuple(
            name for name, rel in self.relationships.items() if rel.default and not rel.hidden))

    def attribute_type(self, name: str) -> str | None:
        return self.attributes.get(name)


def _reference(key: str) -> dict[str, Any]:
    """The query rules of `key` as PCO's reference states them (pco_reference)."""
    row = capability(key)
    return {"query_by": row.can_query, "order_by": row.can_order, "includes": row.can_include,
            "filters": row.can_filter, "per_page_max": row.per_page_max, "per_page_default": row.per_page_default}


def _attrs(*pairs: str) -> dict[str, str]:
    """"name:type" strings → ordered dict (type defaults to string)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, _, kind = pair.partition(":")
        out[name] = kind or STR
    return out


PERSON = Kind(
    key="people/people", type="Person",
    attributes=_attrs(
        "accounting_administrator:boolean", "anniversary:date", "avatar", "birthdate:date",
        "can_create_forms:boolean", "can_email_lists:boolean", "child:boolean", "created_at:datetime",
        "demographic_avatar_url", "directory_status", "first_name", "gender", "given_name", "grade:integer",
        "graduation_year:integer", "inactivated_at:datetime", "last_name", "login_identifier",
        "medical_notes", "membership", "middle_name", "name", "nickname", "passed_background_check:boolean",
        "people_permissions", "remote_id:integer", "resource_permission_flags:json", "school_type",
        "site_administrator:boolean", "status", "updated_at:datetime",
        "directory_shared_info:json", "mfa_configured:boolean", "stripe_customer_identifier"),
    fields_only=frozenset({"directory_shared_info", "mfa_configured", "stripe_customer_identifier"}),
    **_reference("people/people"),
    relationships={
        "addresses": Rel("people/addresses", True, "reverse", via="person", nested=True),
        "emails": Rel("people/emails", True, "reverse", via="person", nested=True),
        "phone_numbers": Rel("people/phone_numbers", True, "reverse", via="person", nested=True),
        "field_data": Rel("people/field_data", True, "reverse", via="customizable", nested=True),
        "households": Rel("people/households", True, "member_of", nested=True),
        "household_memberships": Rel("people/household_memberships", True, "reverse", via="person",
                                     nested=True),
        "primary_campus": Rel("people/campuses", False, default=True, nested=True),
        "marital_status": Rel("people/marital_statuses", False, nested=True),
        "inactive_reason": Rel("people/inactive_reasons", False, nested=True),
        "name_prefix": Rel("people/name_prefixes", False, nested=True),
        "name_suffix": Rel("people/name_suffixes", False, nested=True),
        "school": Rel("people/school_options", False),
        "organization": Rel("people/organization", False, "organization", nested=True),
        "person_apps": Rel("people/person_apps", True),
        "platform_notifications": Rel("people/platform_notifications", True),
        "social_profiles": Rel("people/social_profiles", True),
    },
    single_links=("addresses", "apps", "background_checks", "connected_people", "emails", "field_data",
                  "household_memberships", "households", "inactive_reason", "marital_status",
                  "message_groups", "messages", "name_prefix", "name_suffix", "notes", "organization",
                  "person_apps", "phone_numbers", "platform_notifications", "primary_campus", "school",
                  "social_profiles", "workflow_assignee_workflow_summaries", "workflow_cards",
                  "workflow_shares"),
    html_link=True, webhook_resource="people.v2.events.person",
)

EMAIL = Kind(
    key="people/emails", type="Email",
    attributes=_attrs("address", "blocked:boolean", "created_at:datetime", "location", "primary:boolean",
                      "updated_at:datetime"),
    **_reference("people/emails"),
    relationships={"person": Rel("people/people", False, default=True)},
    single_links=("person",), webhook_resource="people.v2.events.email",
)

PHONE_NUMBER = Kind(
    key="people/phone_numbers", type="PhoneNumber",
    attributes=_attrs("carrier", "country_code", "created_at:datetime", "e164", "international", "location",
                      "national", "number", "primary:boolean", "updated_at:datetime", "formatted_number"),
    fields_only=frozenset({"formatted_number"}),
    **_reference("people/phone_numbers"),
    relationships={"person": Rel("people/people", False, default=True)},
    webhook_resource="people.v2.events.phone_number",
)

ADDRESS = Kind(
    key="people/addresses", type="Address",
    attributes=_attrs("city", "country_code", "country_name", "created_at:datetime", "location",
                      "primary:boolean", "state", "street_line_1", "street_line_2", "updated_at:datetime",
                      "zip"),
    **_reference("people/addresses"),
    relationships={"person": Rel("people/people", False, default=True)},
    single_links=("country",), webhook_resource="people.v2.events.address",
)

HOUSEHOLD = Kind(
    key="people/households", type="Household",
    attributes=_attrs("avatar", "created_at:datetime", "member_count:integer", "name", "primary_contact_id",
                      "primary_contact_name", "updated_at:datetime"),
    **_reference("people/households"),
    relationships={
        "people": Rel("people/people", True, "household_people", default=True, nested=True,
                      filters=("without_deceased", "non_pending")),
        "primary_contact": Rel("people/people", False, default=True),
        "household_memberships": Rel("people/household_memberships", True, "reverse", via="household",
                                     nested=True),
    },
    single_links=("household_memberships", "people"), webhook_resource="people.v2.events.household",
)

HOUSEHOLD_MEMBERSHIP = Kind(
    key="people/household_memberships", type="HouseholdMembership",
    attributes=_attrs("household_role", "pending:boolean", "person_name"),
    **_reference("people/household_memberships"),
    relationships={
        "person": Rel("people/people", False, default=True),
        "household": Rel("people/households", False, hidden=True),
    },
    top_level=False, parent_rel="household", timestamps=False,
)

PERSON_MERGER = Kind(
    key="people/person_mergers", type="PersonMerger",
    attributes=_attrs("created_at:datetime", "person_to_keep_id", "person_to_remove_id"),
    **_reference("people/person_mergers"),
    relationships={
        "person_to_keep": Rel("people/people", False, default=True),
        "person_to_remove": Rel("people/people", False, default=True),
    },
    webhook_resource="people.v2.events.person_merger",
)

CAMPUS = Kind(
    key="people/campuses", type="Campus",
    attributes=_attrs("name", "description", "street", "city", "state", "zip", "country", "phone_number",
                      "website", "created_at:datetime", "updated_at:datetime"),
    query_by=("created_at", "updated_at", "id"), order_by=("name", "created_at", "updated_at"),
    includes=("lists", "service_times"),
)

FIELD_DEFINITION = Kind(
    key="people/field_definitions", type="FieldDefinition",
    attributes=_attrs("config:json", "data_type", "deleted_at:datetime", "name", "sequence:integer", "slug",
                      "tab_id:integer"),
    query_by=("data_type", "name", "sequence", "slug", "config", "deleted_at", "tab_id"),
    order_by=("data_type", "name", "sequence", "slug", "config", "deleted_at", "tab_id"),
    includes=("field_options", "tab"), filters=("include_deleted",),
    relationships={"tab": Rel("people/tabs", False, default=True)},
    timestamps=False,
)

FIELD_DATUM = Kind(
    key="people/field_data", type="FieldDatum",
    attributes=_attrs("created_at:datetime", "file:json", "file_content_type", "file_name", "file_size:integer",
                      "updated_at:datetime", "value"),
    query_by=("value", "file", "file_size", "file_content_type", "file_name", "created_at", "updated_at",
              "field_definition_id"),
    order_by=("value", "file", "file_size", "file_content_type", "file_name", "created_at", "updated_at"),
    includes=("field_definition", "field_option", "tab"),
    relationships={
        "customizable": Rel("people/people", False, default=True),
        "field_definition": Rel("people/field_definitions", False, default=True, nested=True),
        "field_option": Rel("people/field_options", False),
    },
    single_links=("field_definition", "field_option", "person", "tab"), link_aliases={"person": "customizable"},
    webhook_resource="people.v2.events.field_datum",
)


def _value_table(collection: str, type_: str) -> Kind:
    """The `{value}`-only reference tables (no timestamps, as measured live)."""
    return Kind(key=f"people/{collection}", type=type_, attributes=_attrs("value"), query_by=("value",),
                order_by=("value", "sequence"), timestamps=False)


MARITAL_STATUS = _value_table("marital_statuses", "MaritalStatus")
INACTIVE_REASON = _value_table("inactive_reasons", "InactiveReason")
NAME_PREFIX = _value_table("name_prefixes", "NamePrefix")
NAME_SUFFIX = _value_table("name_suffixes", "NameSuffix")

# --- Groups (2023-07-10) -----------------------------------------------------------------------

GROUP = Kind(
    key="groups/groups", type="Group",
    attributes=_attrs(
        "archived_at:datetime", "chat_enabled:boolean", "contact_email", "created_at:datetime", "description",
        "description_as_plain_text", "events_listed:boolean", "events_visibility", "header_image:json",
        "leaders_can_search_people_database:boolean", "listed:boolean", "location_type_preference",
        "members_are_confidential:boolean", "memberships_count:integer", "name", "public_church_center_web_url",
        "schedule", "virtual_location_url", "tag_ids:json", "can_create_conversation:boolean", "widget_status:json"),
    fields_only=frozenset({"tag_ids", "can_create_conversation", "widget_status"}),
    **_reference("groups/groups"),
    relationships={
        "group_type": Rel("groups/group_types", False, nested=True),
        "location": Rel("groups/locations", False),
        "memberships": Rel("groups/memberships", True, "reverse", via="group", nested=True),
    },
    single_links=("group_type", "memberships"),
    render_stored_relationships=True, timestamps=False, webhook_resource="groups.v2.events.group",
)

GROUP_TYPE = Kind(
    key="groups/group_types", type="GroupType",
    attributes=_attrs("church_center_map_visible:boolean", "church_center_visible:boolean", "color",
                      "default_group_settings", "description", "name", "position:integer"),
    **_reference("groups/group_types"),
    relationships={"groups": Rel("groups/groups", True, "reverse", via="group_type", nested=True)},
    single_links=("groups",), render_stored_relationships=True, timestamps=False,
)

GROUP_MEMBERSHIP = Kind(
    key="groups/memberships", type="Membership",
    attributes=_attrs("joined_at:datetime", "role"),
    **_reference("groups/memberships"),
    relationships={
        "group": Rel("groups/groups", False, default=True),
        "person": Rel("people/people", False, default=True),
    },
    order_through={"first_name": ("person", "first_name"), "last_name": ("person", "last_name")},
    top_level=False, parent_rel="group", render_stored_relationships=True, timestamps=False,
    webhook_resource="groups.v2.events.membership",
)

# --- Check-Ins (2025-05-28): read-only ------------------------------------------------------------

CHECK_IN = Kind(
    key="check-ins/check_ins", type="CheckIn",
    attributes=_attrs("checked_out_at:datetime", "confirmed_at:datetime", "created_at:datetime",
                      "emergency_contact_name", "emergency_contact_phone_number", "first_name", "kind",
                      "last_name", "medical_notes", "number:integer", "one_time_guest:boolean", "security_code",
                      "updated_at:datetime"),
    **_reference("check-ins/check_ins"),
    relationships={
        "event": Rel("check-ins/events", False, nested=True),
        "event_period": Rel("check-ins/event_periods", False, default=True),
        "person": Rel("people/people", False, default=True),
        "locations": Rel("check-ins/locations", True),
        "event_times": Rel("check-ins/event_times", True),
        "checked_in_at": Rel("check-ins/stations", False),
        "checked_in_by": Rel("people/people", False),
        "checked_out_by": Rel("people/people", False),
    },
    render_stored_relationships=True,
)

CHECK_IN_EVENT = Kind(
    key="check-ins/events", type="Event",
    attributes=_attrs("archived_at:datetime", "created_at:datetime", "enable_services_integration:boolean",
                      "frequency", "integration_key", "location_times_enabled:boolean", "name",
                      "pre_select_enabled:boolean", "updated_at:datetime", "app_source"),
    fields_only=frozenset({"app_source"}),
    **_reference("check-ins/events"),
    relationships={
        "check_ins": Rel("check-ins/check_ins", True, "reverse", via="event", nested=True),
        "locations": Rel("check-ins/locations", True, "reverse", via="event", nested=True,
                         filters=("locations", "root")),
        "event_times": Rel("check-ins/event_times", True, "reverse", via="event", nested=True),
        "event_periods": Rel("check-ins/event_periods", True, "reverse", via="event", nested=True),
        "attendance_types": Rel("check-ins/attendance_types", True, "reverse", via="event", nested=True),
    },
    single_links=("attendance_types", "check_ins", "event_periods", "event_times", "locations"),
    render_stored_relationships=True,
)

LOCATION = Kind(
    key="check-ins/locations", type="Location",
    attributes=_attrs("age_max_in_months:integer", "age_min_in_months:integer", "age_on:date", "age_range_by",
                      "attendees_per_volunteer:integer", "child_or_adult", "created_at:datetime",
                      "effective_date:date", "gender", "grade_max:integer", "grade_min:integer", "kind",
                      "max_occupancy:integer", "milestone", "min_volunteers:integer", "name", "opened:boolean",
                      "position:integer", "questions:json", "updated_at:datetime"),
    **_reference("check-ins/locations"),
    relationships={
        "event": Rel("check-ins/events", False, hidden=True),
        "parent": Rel("check-ins/locations", False, default=True, nested=True),
        "locations": Rel("check-ins/locations", True, "reverse", via="parent", nested=True),
    },
    render_stored_relationships=True,
)

EVENT_PERIOD = Kind(
    key="check-ins/event_periods", type="EventPeriod",
    attributes=_attrs("created_at:datetime", "ends_at:datetime", "guest_count:integer", "note",
                      "regular_count:integer", "starts_at:datetime", "updated_at:datetime", "volunteer_count:integer"),
    query_by=("starts_at", "created_at", "updated_at"), order_by=("starts_at", "created_at", "updated_at"),
    includes=("event",),
    relationships={
        "event": Rel("check-ins/events", False, default=True, nested=True),
        "event_times": Rel("check-ins/event_times", True, "reverse", via="event_period", nested=True),
        "check_ins": Rel("check-ins/check_ins", True, "reverse", via="event_period", nested=True),
    },
    render_stored_relationships=True,
)

ATTENDANCE_TYPE = Kind(
    key="check-ins/attendance_types", type="AttendanceType",
    attributes=_attrs("color", "created_at:datetime", "limit:integer", "name", "updated_at:datetime"),
    **_reference("check-ins/attendance_types"),
    relationships={"event": Rel("check-ins/events", False, default=True)},
    render_stored_relationships=True,
)

STATION = Kind(
    key="check-ins/stations", type="Station",
    attributes=_attrs("check_in_count:integer", "closes_at:datetime", "created_at:datetime", "input_type",
                      "input_type_options", "mode:integer", "name", "next_shows_at:datetime",
                      "online:boolean", "open_for_check_in:boolean", "timeout_seconds:integer",
                      "updated_at:datetime"),
    **_reference("check-ins/stations"),
    relationships={
        "event": Rel("check-ins/events", False),
        "location": Rel("check-ins/locations", False, nested=True),
        "print_station": Rel("check-ins/stations", False),
    },
    render_stored_relationships=True,
)

LABEL = Kind(
    key="check-ins/labels", type="Label",
    attributes=_attrs("created_at:datetime", "name", "prints_for", "roll", "updated_at:datetime", "xml"),
    **_reference("check-ins/labels"), render_stored_relationships=True,
)

HEADCOUNT = Kind(
    key="check-ins/headcounts", type="Headcount",
    attributes=_attrs("created_at:datetime", "total:integer", "updated_at:datetime"),
    **_reference("check-ins/headcounts"),
    relationships={
        "event_time": Rel("check-ins/event_times", False, default=True, nested=True),
        "attendance_type": Rel("check-ins/attendance_types", False, default=True),
    },
    render_stored_relationships=True,
)

EVENT_TIME = Kind(
    key="check-ins/event_times", type="EventTime",
    attributes=_attrs("created_at:datetime", "day_of_week:integer", "guest_count:integer", "hides_at:datetime",
                      "hour:integer", "minute:integer", "name", "regular_count:integer", "shows_at:datetime",
                      "starts_at:datetime", "total_count:integer", "updated_at:datetime",
                      "volunteer_count:integer"),
    **_reference("check-ins/event_times"),
    relationships={
        "event": Rel("check-ins/events", False, default=True, nested=True),
        "event_period": Rel("check-ins/event_periods", False, default=True),
        "headcounts": Rel("check-ins/headcounts", True, "reverse", via="event_time", nested=True),
    },
    single_links=("headcounts",), render_stored_relationships=True,
)

# --- Calendar (2022-07-07): read-only -------------------------------------------------------------

CALENDAR_EVENT = Kind(
    key="calendar/events", type="Event",
    attributes=_attrs("approval_status", "created_at:datetime", "description", "featured:boolean", "image_url",
                      "name", "percent_approved:integer", "percent_rejected:integer", "registration_url",
                      "summary", "updated_at:datetime", "visible_in_church_center:boolean"),
    **_reference("calendar/events"),
    relationships={
        "owner": Rel("people/people", False, default=True),
        "event_instances": Rel("calendar/event_instances", True, "reverse", via="event", nested=True),
    },
    single_links=("event_instances",), render_stored_relationships=True,
)

EVENT_INSTANCE = Kind(
    key="calendar/event_instances", type="EventInstance",
    attributes=_attrs("all_day_event:boolean", "church_center_url", "compact_recurrence_description",
                      "created_at:datetime", "ends_at:datetime", "location", "published_ends_at:datetime",
                      "published_starts_at:datetime", "recurrence", "recurrence_description",
                      "starts_at:datetime", "updated_at:datetime"),
    **_reference("calendar/event_instances"),
    relationships={"event": Rel("calendar/events", False, default=True, nested=True)},
    render_stored_relationships=True,
)

# --- Webhooks ------------------------------------------------------------------------------------

WEBHOOK_SUBSCRIPTION = Kind(
    key="webhooks/subscriptions", type="Subscription",
    attributes=_attrs("active:boolean", "application_id", "authenticity_secret", "created_at:datetime", "name",
                      "updated_at:datetime", "url"),
    query_by=("application_id", "name", "active"), order_by=("name", "created_at", "updated_at"),
    relationships={"events": Rel("webhooks/events", True, "reverse", via="subscription", nested=True)},
    single_links=("events",),
)

WEBHOOK_EVENT = Kind(
    key="webhooks/events", type="Event",
    attributes=_attrs("created_at:datetime", "name", "payload", "status", "updated_at:datetime", "uuid"),
    query_by=("status", "uuid"), order_by=("created_at",),
    relationships={
        "subscription": Rel("webhooks/subscriptions", False, default=True),
        "deliveries": Rel("webhooks/deliveries", True, "reverse", via="event", nested=True),
    },
    top_level=False, parent_rel="subscription", single_links=("deliveries",),
)

WEBHOOK_DELIVERY = Kind(
    key="webhooks/deliveries", type="Delivery",
    attributes=_attrs("created_at:datetime", "object_url", "request_body", "request_headers", "response_body",
                      "response_headers", "status:integer", "timing:float", "updated_at:datetime"),
    query_by=("status",), order_by=("created_at",),
    relationships={"event": Rel("webhooks/events", False, default=True, hidden=True)},
    top_level=False, parent_rel="event",
)

AVAILABLE_EVENT = Kind(
    key="webhooks/available_events", type="AvailableEvent",
    attributes=_attrs("action", "app", "name", "resource", "type", "version"),
    query_by=("app", "name"), order_by=("name",), timestamps=False,
)

# GET /<app>/v2: the organization itself (a singleton, not a collection).
ORGANIZATION = Kind(
    key="people/organization", type="Organization",
    attributes=_attrs("avatar_url", "church_center_subdomain", "contact_phone_number", "contact_website",
                      "country_code", "created_at:datetime", "date_format", "name", "time_zone"),
    timestamps=False,
)

KINDS: dict[str, Kind] = {kind.key: kind for kind in (
    PERSON, EMAIL, PHONE_NUMBER, ADDRESS, HOUSEHOLD, HOUSEHOLD_MEMBERSHIP, PERSON_MERGER, CAMPUS,
    FIELD_DEFINITION, FIELD_DATUM, MARITAL_STATUS, INACTIVE_REASON, NAME_PREFIX, NAME_SUFFIX,
    GROUP, GROUP_TYPE, GROUP_MEMBERSHIP,
    CHECK_IN, CHECK_IN_EVENT, LOCATION, STATION, LABEL, HEADCOUNT, EVENT_TIME, EVENT_PERIOD, ATTENDANCE_TYPE,
    CALENDAR_EVENT, EVENT_INSTANCE,
    WEBHOOK_SUBSCRIPTION, WEBHOOK_EVENT, WEBHOOK_DELIVERY, AVAILABLE_EVENT,
)}

# The people events PCO's console offers and the sandbox emits (plus groups memberships).
WEBHOOK_EVENT_NAMES: tuple[str, ...] = tuple(
    f"{kind.webhook_resource}.{action}"
    for kind in KINDS.values() if kind.webhook_resource
    for action in (("created",) if kind is PERSON_MERGER else ("created", "updated", "destroyed")))


def adhoc_kind(key: str, type_: str, samples: dict[str, Any]) -> Kind:
    """A kind for a loaded collection the catalog does not describe (read-only, fully queryable).

    `samples` maps each attribute name to one loaded value, from which its type is guessed.
    """
    attributes = {name: _guess_type(value) for name, value in samples.items()}
    names = tuple(attributes)
    return Kind(key=key, type=type_, attributes=attributes, query_by=names + ("id",), order_by=names,
                render_stored_relationships=True, timestamps="updated_at" in attributes)


def _guess_type(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, (dict, list)):
        return JSON
    if isinstance(value, str) and len(value) == 20 and value[10] == "T" and value.endswith("Z"):
        return DATETIME
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return DATE
    return STR


def resolve_version(app: str, requested: str | None) -> str | None:
    """The version PCO processes a request as: the newest published version ≤ the requested date.

    `None` (no header) gives the app default; "LATEST" the newest. Returns None when the request
    must be refused (before 2018-08-01, or not a YYYY-MM-DD date).
    """
    versions = APP_VERSIONS[app]
    if requested is None or requested == "":
        return DEFAULT_VERSIONS[app]
    if requested.upper() == "LATEST":
        return versions[-1]
    if len(requested) != 10 or requested[4] != "-" or requested[7] != "-" \
            or not requested.replace("-", "").isdigit():
        return None
    eligible = [v for v in versions if v <= requested]
    return eligible[-1] if eligible else None
