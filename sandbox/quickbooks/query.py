"""The QuickBooks query language, the subset Intuit documents (Q-QRY):

    SELECT * | COUNT(*) FROM Entity [WHERE Prop Op Value [AND ...]] [ORDERBY Prop [ASC|DESC], ...]
    [STARTPOSITION n] [MAXRESULTS n]

Ops are = < > <= >= IN LIKE ('%' wildcards only). No OR, no JOIN, no projections, one entity per query.
Syntax errors are Fault 4000 "Error parsing query" (QueryParserError); a property that cannot be filtered or
a MAXRESULTS over 1000 is Fault 4001 "Invalid query" (QueryValidationError), wording as seen from the live
API [S]. Quirks reproduced on purpose:
- name lists (Customer, Account, Term, Item) return only active records unless the WHERE names Active;
- a page with no rows is an empty `QueryResponse: {}` (no startPosition, no maxResults) [S];
- without MAXRESULTS a page holds 100 rows [S]; STARTPOSITION is 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.store import BY_PATH

COMMON = {"Id": "id", "MetaData.CreateTime": "datetime", "MetaData.LastUpdatedTime": "datetime"}
# Filterable properties and how to compare them; the rest of each entity is not queryable [U per field].
FILTERABLE: dict[str, dict[str, str]] = {
    "Invoice": {"DocNumber": "str", "TxnDate": "date", "DueDate": "date", "CustomerRef": "ref",
                "Balance": "num", "TotalAmt": "num", "SalesTermRef": "ref"},
    "Payment": {"TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "num", "PaymentRefNum": "str"},
    "Deposit": {"TxnDate": "date", "TotalAmt": "num", "DepositToAccountRef": "ref"},
    "Customer": {"DisplayName": "str", "CompanyName": "str", "GivenName": "str", "FamilyName": "str",
                 "FullyQualifiedName": "str", "PrimaryEmailAddr": "email", "Active": "bool", "Balance": "num"},
    "Account": {"Name": "str", "FullyQualifiedName": "str", "AccountType": "str", "AccountSubType": "str",
                "Classification": "str", "Active": "bool", "CurrentBalance": "num"},
    "Term": {"Name": "str", "Active": "bool"},
    "Item": {"Name": "str", "FullyQualifiedName": "str", "Type": "str", "Sku": "str", "Active": "bool"},
}  # fmt: skip

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


@dataclass
class Token:
    kind: str
    text: str
    column: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def value(self) -> Any:
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        if self.kind == "number":
            return Decimal(self.text)
        if self.is_word("true", "false"):
            return self.text.lower() == "true"
        raise errors.query_parse_error(f'Encountered " <IDENTIFIER> "{self.text} "" at line 1, column {self.column}.')


@dataclass
class Condition:
    path: str
    kind: str
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, str, bool]] = field(default_factory=list)
    start: int = 1
    max_results: int | None = None


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if not text[pos:].strip():
                break
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            char = text[column - 1]
            raise errors.query_parse_error(f'Lexical error at line 1, column {column}.  Encountered: "{char}"')
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return tokens


class Parser:
    def __init__(self, text: str, max_results: int) -> None:
        self.tokens, self.pos, self.limit = tokenize(text), 0, max_results

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, *words: str, kind: str | None = None, text: str | None = None) -> Token:
        token = self.peek()
        ok = token is not None and (
            (words and token.is_word(*words))
            or (kind is not None and token.kind == kind and text in (None, token.text))
        )
        if not ok or token is None:
            raise self.unexpected(token, " or ".join(f'"{w}"' for w in words) or f'"{text or kind}"')
        self.pos += 1
        return token

    def unexpected(self, token: Token | None, expected: str) -> errors.QBOError:
        if token is None:
            return errors.query_parse_error(f'Encountered "<EOF>" at line 1, column 0.\nWas expecting:\n    {expected}')
        label = f"<{token.text.upper()}>" if token.is_word("or", "and", "join", "group") else f"<{token.kind.upper()}>"
        return errors.query_parse_error(
            f'Encountered " {label} "{token.text} "" at line 1, column {token.column}.\nWas expecting:\n    {expected}'
        )

    def parse(self) -> Query:
        self.take("select")
        count = False
        if (token := self.peek()) is not None and token.is_word("count"):
            self.pos += 1
            self.take(kind="punct", text="(")
            self.take(kind="punct", text="*")
            self.take(kind="punct", text=")")
            count = True
        else:
            self.take(kind="punct", text="*")
        self.take("from")
        name = self.take(kind="word")
        entity = BY_PATH.get(name.text.lower())
        if entity is None:
            raise errors.query_parse_error(f'Encountered " <IDENTIFIER> "{name.text} "" at line 1, column '
                                           f"{name.column}. {name.text} is not a queryable entity.")  # fmt: skip
        query = Query(entity, count)
        self.clauses(query)
        return query

    def clauses(self, query: Query) -> None:
        if self.take_if("where"):
            query.where.append(self.condition(query.entity))
            while (token := self.peek()) is not None and not token.is_word("orderby", "order", "startposition",
                                                                                "maxresults"):  # fmt: skip
                self.take("and")
                query.where.append(self.condition(query.entity))
        if self.take_if("order"):
            self.take("by")
            self.order(query)
        elif self.take_if("orderby"):
            self.order(query)
        while (token := self.peek()) is not None:
            word = self.take("startposition", "maxresults").text.lower()
            number = self.take(kind="number")
            value = int(Decimal(number.text))
            if word == "startposition":
                query.start = max(value, 1)
            elif value > self.limit or value < 1:
                raise errors.query_validation_error(
                    f"value {value} is too large. Max allowed value is {self.limit}"
                    if value > self.limit
                    else f"value {value} is too small. Min allowed value is 1"
                )
            else:
                query.max_results = value

    def take_if(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.is_word(word):
            self.pos += 1
            return True
        return False

    def condition(self, entity: str) -> Condition:
        path, kind = self.property(entity, self.take(kind="word"))
        token = self.peek()
        if token is not None and token.is_word("in"):
            self.pos += 1
            self.take(kind="punct", text="(")
            values = [self.literal()]
            while self.take_if_punct(","):
                values.append(self.literal())
            self.take(kind="punct", text=")")
            return Condition(path, kind, "in", values)
        if token is not None and token.is_word("like"):
            self.pos += 1
            return Condition(path, kind, "like", [self.literal()])
        op = self.take(kind="op")
        if op.text in {"!=", "<>"}:
            raise self.unexpected(op, '"=" or "<" or ">" or "<=" or ">=" or "IN" or "LIKE"')
        return Condition(path, kind, op.text, [self.literal()])

    def take_if_punct(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == text:
            self.pos += 1
            return True
        return False

    def literal(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.unexpected(None, "<STRING>")
        self.pos += 1
        return token.value()

    def property(self, entity: str, token: Token) -> tuple[str, str]:
        table = {**COMMON, **FILTERABLE[entity]}
        for path, kind in table.items():
            if path.lower() == token.text.lower():
                return path, kind
        raise errors.query_validation_error(f"property '{token.text}' is not queryable")

    def order(self, query: Query) -> None:
        while True:
            path, kind = self.property(query.entity, self.take(kind="word"))
            descending = False
            if (token := self.peek()) is not None and token.is_word("asc", "desc"):
                descending = token.text.lower() == "desc"
                self.pos += 1
            query.order.append((path, kind, descending))
            if not self.take_if_punct(","):
                return
