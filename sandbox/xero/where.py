"""Xero's `where` and `order` query parameters: the subset of its .NET dynamic-LINQ syntax that clients use.

Supported: `==` / `=` / `!=` / `<>` / `<` / `<=` / `>` / `>=`, `AND` / `&&`, `OR` / `||`, `NOT` / `!`,
parentheses, string literals (a doubled quote escapes a quote), numbers, `true`/`false`/`null`,
`guid("...")`, `DateTime(y,m,d[,h,m,s])`, `DateTime.Parse("...")`, dotted paths such as
`Contact.ContactID`, and the methods `.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`, `.ToString()`,
`.ToLower()`, `.ToUpper()`. Anything else fails as Xero fails: 400 `QueryParseException` (ErrorNumber 16).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"]|"")*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)'
    r"|(?P<op>==|!=|<>|<=|>=|&&|\|\||[=<>!().,]))"
)
_METHODS = {"contains", "startswith", "endswith", "tostring", "tolower", "toupper"}
Getter = Callable[[Any], Any]
Predicate = Callable[[Any], bool]


class QueryParseError(ValueError):
    """Rendered as `{"ErrorNumber":16,"Type":"QueryParseException","Message":...}`."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if not found or found.end() == pos:
            raise QueryParseError("Syntax error")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


def _norm(value: Any) -> Any:
    """Make values of different Xero types comparable: GUID vs string, date vs DateTime, int vs decimal."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    """GUIDs compare case-insensitively with strings (`Contact.ContactID.ToString()=="A1B2..."`)."""
    if isinstance(a, UUID) and isinstance(b, str):
        return str(a), b.lower()
    if isinstance(b, UUID) and isinstance(a, str):
        return a.lower(), str(b)
    return _norm(a), _norm(b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
    "<": lambda a, b: a is not None and b is not None and a < b,
    "<=": lambda a, b: a is not None and b is not None and a <= b,
    ">": lambda a, b: a is not None and b is not None and a > b,
    ">=": lambda a, b: a is not None and b is not None and a >= b,
}  # fmt: skip


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda o: a(o) or b(o)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda o: a(o) and b(o)


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Getter], type_name: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0
        self.fields = fields
        self.type_name = type_name

    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1].lower() != value.lower()):
            raise QueryParseError("Syntax error" if tok[0] != "end" else "Expression expected")
        self.pos += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek()[0] != "end":
            raise QueryParseError("Syntax error")
        return pred

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while self.peek()[1].upper() in ("OR", "||"):
            self.take()
            left = _either(left, self.and_expr())
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.peek()[1].upper() in ("AND", "&&"):
            self.take()
            left = _both(left, self.unary())
        return left

    def unary(self) -> Predicate:
        if self.peek()[1].upper() in ("NOT", "!"):
            self.take()
            inner = self.unary()
            return lambda o: not inner(o)
        if self.peek()[1] == "(":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        left = self.operand()
        op = self.peek()[1]
        if op not in _COMPARE:
            return lambda o: bool(left(o))
        self.take()
        right, compare = self.operand(), _COMPARE[op]

        def check(o: Any) -> bool:
            try:
                return compare(*_pair(left(o), right(o)))
            except TypeError as exc:
                raise QueryParseError(f"Operator '{op}' incompatible with operand types") from exc

        return check

    def operand(self) -> Getter:
        kind, text = self.take()
        if kind == "str":
            value: Any = text[1:-1].replace('""', '"')
            return lambda _o: value
        if kind == "num":
            number = Decimal(text)
            return lambda _o: number
        if kind != "id":
            raise QueryParseError("Expression expected")
        word = text.lower()
        if word in ("true", "false", "null"):
            constant = {"true": True, "false": False, "null": None}[word]
            return lambda _o: constant
        if word in ("guid", "datetime"):
            constant = self.constructor(word)
            return lambda _o: constant
        return self.path(text)

    def constructor(self, word: str) -> Any:
        if word == "datetime" and self.peek()[1] == ".":
            self.take(".")
            self.take("Parse")
        self.take("(")
        args = [self.take()[1]]
        while self.peek()[1] == ",":
            self.take(",")
            args.append(self.take()[1])
        self.take(")")
        try:
            if word == "guid":
                return UUID(args[0].strip('"'))
            if len(args) == 1:
                return datetime.fromisoformat(args[0].strip('"'))
            parts = [int(a) for a in args] + [0] * (6 - len(args))
            return datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], tzinfo=UTC)
        except (ValueError, TypeError) as exc:
            raise QueryParseError("Syntax error") from exc

    def path(self, first: str) -> Getter:
        parts = [first]
        while self.peek()[1] == "." and self.peek(1)[0] == "id" and self.peek(1)[1].lower() not in _METHODS:
            self.take(".")
            parts.append(self.take()[1])
        name = ".".join(parts)
        getter = self.fields.get(name.lower())
        if getter is None:
            raise QueryParseError(f"No property or field '{parts[-1]}' exists in type '{self.type_name}'")
        while self.peek()[1] == ".":
            self.take(".")
            getter = self.method(getter, self.take()[1].lower())
        return getter

    def method(self, getter: Getter, name: str) -> Getter:
        self.take("(")
        arg = None if self.peek()[1] == ")" else self.operand()(None)
        self.take(")")
        if name == "tostring":
            return lambda o: None if getter(o) is None else str(getter(o))
        if name in ("tolower", "toupper"):
            return lambda o: None if getter(o) is None else getattr(str(getter(o)), name[2:])()
        if name in ("contains", "startswith", "endswith") and isinstance(arg, str):
            test = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[name]
            return lambda o: isinstance(getter(o), str) and test(getter(o), arg)
        raise QueryParseError(f"No applicable method '{name}' exists in type '{self.type_name}'")


def compile_where(text: str, fields: Mapping[str, Getter], type_name: str) -> Predicate:
    return _Parser(text, fields, type_name).parse()


def compile_order(text: str, fields: Mapping[str, Getter], type_name: str) -> list[tuple[Getter, bool]]:
    """`order=InvoiceNumber DESC, Date` -> [(getter, descending)]."""
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, direction = part.partition(" ")
        getter = fields.get(name.strip().lower())
        if getter is None:
            raise QueryParseError(f"No property or field '{name.strip()}' exists in type '{type_name}'")
        if direction.strip().upper() not in ("", "ASC", "DESC"):
            raise QueryParseError("Syntax error")
        keys.append((getter, direction.strip().upper() == "DESC"))
    return keys


def _sort_key(getter: Getter) -> Callable[[Any], tuple[bool, Any]]:
    def key(item: Any) -> tuple[bool, Any]:
        value = getter(item)
        return (value is not None, _norm(value) if value is not None else 0)

    return key


def apply_order(items: list[Any], keys: list[tuple[Getter, bool]]) -> list[Any]:
    """Stable multi-key sort; missing values sort first, as SQL Server's NULLs do."""
    for getter, descending in reversed(keys):
        items.sort(key=_sort_key(getter), reverse=descending)
    return items
