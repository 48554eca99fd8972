"""The Fault envelope, and the QuickBooks errors this sandbox raises.

Shapes and codes come from Intuit's "Fix common errors" page (Q-ERR) and from bodies seen in public client
code. Two shapes exist in the wild and both are reproduced:

- the documented one, ``{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type"}, "time"}``,
  used for validation, business-rule and query errors (HTTP 400, or 200 when Intuit feels like it);
- the gateway's 401 for a bad or expired token, which is lower-case JSON with many null siblings
  (``{"warnings": null, "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200;
  statusCode=401", ...}], "type": "AUTHENTICATION"}, ...}``) and a ``WWW-Authenticate`` header.
  Adapters must read both casings; the sandbox makes sure they have to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VALIDATION = "ValidationFault"
SYSTEM = "SystemFault"
AUTHORIZATION = "AuthorizationFault"


@dataclass
class QBOError(Exception):
    """Raised anywhere below the router; the router renders it as a Fault envelope."""

    code: str
    message: str
    detail: str = ""
    element: str = ""
    status: int = 400
    type: str = VALIDATION
    headers: dict[str, str] = field(default_factory=dict)

    def fault(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Error": [error], "type": self.type}


def fault_body(code: str, message: str, detail: str = "", element: str = "", type_: str = VALIDATION) -> dict[str, Any]:
    """A Fault body without the "time" key (the router adds it); handy for injected faults too."""
    return {"Fault": QBOError(code, message, detail, element, type=type_).fault()}


# Builders for the errors the sandbox raises, named after Intuit's messages.


def required_missing(name: str) -> QBOError:
    return QBOError("2020", "Required Param Missing", f"Required parameter {name} is missing in the request.", name)


def invalid_reference(what: str, ref: Any) -> QBOError:
    return QBOError(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {what} assigned to this transaction has been deleted or does not exist ({ref!r}).",
        what,
    )


def not_found(entity: str, deleted: bool = False) -> QBOError:
    detail = (
        "Object Not Found : Another user has deleted this transaction."
        if deleted
        else "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees."
    )
    return QBOError("610", "Object Not Found", detail, entity)


def stale_object(entity: str) -> QBOError:
    return QBOError(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and root were working on this at the same time. root finished before you did, "
        f"so your work was not saved. Entity={entity}",
        "SyncToken",
    )


def business(detail: str, element: str = "") -> QBOError:
    return QBOError(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def duplicate_name(kind: str) -> QBOError:
    return QBOError(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. Please use a different name.",
        "Name",
    )


def duplicate_doc_number(doc_number: str, entity: str, txn_id: str) -> QBOError:
    return QBOError(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has already been used. "
        f"DocNumber={doc_number} is assigned to TxnType={entity} with TxnId={txn_id}",
        "DocNumber",
    )


def deposited(entity: str) -> QBOError:
    return QBOError(
        "6540",
        "Deposited Transaction cannot be changed",
        "This transaction has been deposited. If you want to change or delete it, you must edit the deposit it "
        f"appears on and remove it first. Entity={entity}",
    )


def unsupported_property(name: str) -> QBOError:
    return QBOError(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{name} specified is unsupported or invalid",
        name,
    )


def unsupported_operation(what: str) -> QBOError:
    return QBOError("500", "Unsupported Operation", f"Operation {what} is not supported.")


def query_parse_error(detail: str) -> QBOError:
    return QBOError("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QBOError:
    return QBOError("4001", "Invalid query", f"QueryValidationError: {detail}")


def auth_failed_body(detail: str) -> dict[str, Any]:
    """The gateway's 401 body, lower-case, as recorded from the live API (see module docstring)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "status": None,
        "cdcresponse": [],
    }


def authorization_failed() -> QBOError:
    """A valid token used on a company it was not granted for, or without the accounting scope [U]."""
    return QBOError(
        "3100",
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "",
        status=403,
        type=AUTHORIZATION,
    )


THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse time="{time}" xmlns="http://schema.intuit.com/finance/v3">\n'
    '    <Fault type="SERVICE">\n'
    '        <Error code="3001">\n'
    "            <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
    "            <Detail>The request limit was reached.  Try again later</Detail>\n"
    "        </Error>\n"
    "    </Fault>\n"
    "</IntuitResponse>"
)


def throttle_json() -> dict[str, Any]:
    return fault_body(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        type_="SERVICE",
    )
