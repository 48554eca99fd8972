"""Parse and validate each distinct document once: clients send the same few operations over and over.

One schema extension, in place of strawberry's ParserCache and ValidationCache, for three reasons:

- The key is the exact document text, with the parse options (MaxTokensLimiter's `max_tokens`) and the
  validation rules in force (limits.py's QueryLimitsRule among them). A hit therefore stands for a document
  that was parsed under the same token limit and measured by the same rules; its stored outcome, accepted or
  refused with these errors, is the one a fresh run would give. ValidationCache keys on the parsed document
  instead, which compares by structure: hashing it walks the whole tree on every request, and two texts that
  differ only inside comments can share an entry (and the first one's error positions).
- The store is bounded by the total length of the texts it holds, not only by a count: a parsed document takes
  50 to 70 bytes per character of text, so 256 documents at the token limit would hold hundreds of megabytes.
- Documents that fail to parse are not stored (the parser's token limit keeps re-parsing them cheap), and
  neither are texts longer than MAX_DOCUMENT_CHARS.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

# Under 20 MB of parsed documents; the largest document kept is well above any operation an app sends
# (the standard introspection query is 1.5 KB of text).
MAX_TOTAL_CHARS = 256 * 1024
MAX_DOCUMENT_CHARS = 16 * 1024


@dataclass
class _Entry:
    document: DocumentNode
    chars: int  # the length of its text, what the store's bound counts
    errors: list[GraphQLError] | None = None  # None until validated


class DocumentStore:
    """Parsed documents and their validation errors by key, least recently used evicted first.

    Shared by every request of the process (one event loop: no locking needed)."""

    def __init__(self, max_total_chars: int = MAX_TOTAL_CHARS, max_document_chars: int = MAX_DOCUMENT_CHARS) -> None:
        self.max_total_chars = max_total_chars
        self.max_document_chars = max_document_chars
        self._entries: OrderedDict[Any, _Entry] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Any, entry: _Entry) -> None:
        if key in self._entries:
            return
        self._entries[key] = entry
        self._chars += entry.chars
        while self._chars > self.max_total_chars:
            _, old = self._entries.popitem(last=False)
            self._chars -= old.chars

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0


class CachedDocuments(SchemaExtension):
    """Reuses a stored document and its validation errors; stores what this request parsed and validated.

    Pass as a factory (`lambda: CachedDocuments(store)`): strawberry builds one per request."""

    def __init__(self, store: DocumentStore) -> None:
        super().__init__()
        self.store = store
        self.entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        key = None
        # The parse options and validation rules are final here: extensions set them in on_operation.
        if ctx.query is not None and len(ctx.query) <= self.store.max_document_chars:
            key = (ctx.query, tuple(ctx.parse_options.items()), ctx.validation_rules)
            self.entry = self.store.get(key)
            if self.entry is not None:
                ctx.graphql_document = self.entry.document  # strawberry skips parsing when one is set
        yield
        if self.entry is None and key is not None and ctx.graphql_document is not None and not ctx.pre_execution_errors:
            self.entry = _Entry(ctx.graphql_document, len(ctx.query or ""))
            self.store.put(key, self.entry)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self.entry
        if entry is not None and entry.errors is not None:
            ctx.pre_execution_errors = list(entry.errors)  # strawberry skips validation when these are set
        yield
        if entry is not None and entry.errors is None and ctx.pre_execution_errors is not None:
            entry.errors = list(ctx.pre_execution_errors)
