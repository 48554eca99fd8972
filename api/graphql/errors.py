"""Which GraphQL errors a caller may read, and which are masked and logged.

Expected failures of mutations are union members (types.py), not errors. Errors remain for three things:
a problem with the document or its variables (syntax, validation, limits, scalar coercion), which the caller
must see to fix its request; a failure we raised on purpose with a stable `extensions.code` (FORBIDDEN,
BAD_USER_INPUT); and anything else that went wrong while resolving, which may carry SQL, ids or stack
details and is therefore masked for the caller and logged in full for us.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

log = logging.getLogger("arbridge.graphql")

MASKED_MESSAGE = "Unexpected error."
MASKED_CODE = "INTERNAL_SERVER_ERROR"

# Scalars and input coercion report a bad variable by raising these; graphql-core wraps them in an error
# that names the variable, the path inside it and the reason.
_INPUT_ERRORS = (ValueError, TypeError, GraphQLError)


def is_expected(error: GraphQLError) -> bool:
    if error.extensions and "code" in error.extensions:
        return True
    # Errors about the request itself come before execution and have no path; anything raised while
    # resolving a field has one.
    return error.path is None and (error.original_error is None or isinstance(error.original_error, _INPUT_ERRORS))


def should_mask(error: GraphQLError) -> bool:
    return not is_expected(error)


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors that also gives the masked error a code, so clients can branch on every error alike."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=MASKED_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": MASKED_CODE},
        )


def log_unexpected(errors: list[GraphQLError], operation_name: str | None) -> None:
    """Log what will be masked, with its traceback; the caller's own mistakes are not our incidents."""
    for error in errors:
        if should_mask(error):
            exc: Any = error.original_error or error
            log.error(
                "unexpected GraphQL error in operation %s at %s: %s",
                operation_name or "<anonymous>",
                ".".join(str(p) for p in error.path or ()),
                error.message,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
