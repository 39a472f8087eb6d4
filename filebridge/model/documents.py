"""The three documents on the wire: the order instruction, the acknowledgement, the result.

Field names are the snake_case of the XML element names and nest as the XML does
(``order.site.postal_code``, ``order.container.fraction.ewc_code``), so that the
codecs can map models to XML elements and CSV columns mechanically, in field order.
The field order of every model *is* the element order of the XSD.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from filebridge.model.values import (
    AckStatus,
    Action,
    CountryCode,
    EwcCode,
    FreeText,
    Kilograms,
    Latitude,
    Longitude,
    OtherId,
    Outcome,
    Phone,
    PostalCode,
    Quantity,
    SafeId,
    ShortText,
    TypeCode,
)

XML_NAMESPACE = "urn:filebridge:exchange:1"
DOCUMENT_VERSION = "1.0"


class Part(BaseModel):
    """A nested group of a document (Customer, Site, ...): strict, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Part):
    customer_id: OtherId
    name: ShortText


class Site(Part):
    site_id: OtherId
    street: ShortText
    postal_code: PostalCode
    city: ShortText
    country_code: CountryCode
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def _coordinates_come_in_pairs(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        return self


class Fraction(Part):
    """The waste fraction; an EWC code with ``*`` is hazardous, so ``hazardous`` must be true."""

    code: ShortText
    ewc_code: EwcCode
    hazardous: bool

    @model_validator(mode="after")
    def _star_means_hazardous(self) -> Self:
        if self.ewc_code.endswith("*") and not self.hazardous:
            raise ValueError(
                f"EWC code {self.ewc_code!r} marks hazardous waste, so hazardous must be true"
            )
        return self


class Container(Part):
    type_code: TypeCode
    container_id: OtherId | None = None
    quantity: Quantity
    fraction: Fraction


class Window(Part):
    """When the work may happen; ``latest`` must be after ``earliest``."""

    earliest: AwareDatetime
    latest: AwareDatetime

    @model_validator(mode="after")
    def _latest_after_earliest(self) -> Self:
        if self.latest <= self.earliest:
            raise ValueError("latest must be after earliest")
        return self


class Contact(Part):
    name: ShortText
    phone: Phone


class Weighing(Part):
    fraction_code: ShortText
    kg: Kilograms


class Document(BaseModel):
    """Base of the three documents; ``kind`` names it in exchange records and CSV specs."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]
    root_element: ClassVar[str]

    message_id: SafeId

    # The codec methods import lazily: the codecs depend on these models, not the reverse.
    @classmethod
    def from_xml(cls, data: bytes) -> Self:
        """Parse and validate one XML document of this type (hardened parser, XSD-checked)."""
        from filebridge.formats.xml import XmlCodec

        return XmlCodec().decode_one(data, cls)

    def to_xml(self) -> bytes:
        """Render as XSD-valid UTF-8 XML."""
        from filebridge.formats.xml import XmlCodec

        return XmlCodec().encode([self])

    @classmethod
    def from_csv(cls, data: bytes, delimiter: str = ",") -> Self:
        """Parse a CSV file that holds exactly one row of this document type."""
        from filebridge.formats.csv import CsvCodec

        return CsvCodec(delimiter=delimiter).decode_one(data, cls)

    def to_csv(self, delimiter: str = ",") -> bytes:
        """Render as a CSV file with a header row and this one document."""
        from filebridge.formats.csv import CsvCodec

        return CsvCodec(delimiter=delimiter).encode([self])


class Order(Document):
    """The instruction we send: what to do, where, with which container, and when."""

    kind: ClassVar[str] = "order"
    root_element: ClassVar[str] = "OrderInstruction"

    order_id: SafeId
    sequence: int = Field(ge=1)
    created_at: AwareDatetime
    action: Action
    customer: Customer
    site: Site
    container: Container
    window: Window
    contact: Contact | None = None
    notes: FreeText | None = None

    @model_validator(mode="after")
    def _container_id_when_container_exists(self) -> Self:
        if self.action is not Action.DELIVER and self.container.container_id is None:
            raise ValueError(
                f"container.container_id is required for action {self.action.value!r}"
            )
        return self


class Acknowledgement(Document):
    """The partner's answer to one instruction file: accepted or rejected."""

    kind: ClassVar[str] = "ack"
    root_element: ClassVar[str] = "Acknowledgement"

    ref_message_id: SafeId
    order_id: SafeId
    status: AckStatus
    reason_code: OtherId | None = None
    reason_text: FreeText | None = None
    partner_reference: OtherId | None = None
    planned_date: date | None = None
    created_at: AwareDatetime


class OrderResult(Document):
    """What the partner did: completed (with weighings) or not completed (with a deviation)."""

    kind: ClassVar[str] = "result"
    root_element: ClassVar[str] = "OrderResult"

    order_id: SafeId
    partner_reference: OtherId | None = None
    outcome: Outcome
    completed_at: AwareDatetime
    deviation_code: OtherId | None = None
    deviation_text: FreeText | None = None
    weighings: list[Weighing] | None = Field(default=None, min_length=1)
    container_ids: list[OtherId] | None = Field(default=None, min_length=1)


DOCUMENT_TYPES: tuple[type[Document], ...] = (Order, Acknowledgement, OrderResult)


def document_type(kind_or_root: str) -> type[Document]:
    """Find a document class by ``kind`` (``order``) or XML root element (``OrderResult``)."""
    for cls in DOCUMENT_TYPES:
        if kind_or_root in (cls.kind, cls.root_element):
            return cls
    raise KeyError(kind_or_root)


def dump_json(document: Document) -> dict[str, Any]:
    """The JSON shape ``filebridge send`` accepts: ``model_dump(mode="json")``."""
    return document.model_dump(mode="json")
