"""Compact, JSON-ready forms of what LangChain and LangGraph pass to callbacks.

Messages become ``{role, content, tool_calls, ...}`` with only the fields that say something;
``Document``, ``Send``, ``Command``, ``Interrupt`` and pydantic models become small mappings; long
text is cut at ``max_chars`` with a marker. The core's sanitizer still redacts and bounds the
result when the line is written: these forms only keep lines readable and cheap to build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

__all__ = [
    "cut",
    "document_dict",
    "message_dict",
    "to_loggable",
]

_MAX_DEPTH = 6
_MAX_ITEMS = 100
_PLAIN = (str, int, float, bool, type(None))
_EXACT_PLAIN = frozenset((int, float, bool, type(None)))


def cut(text: str, max_chars: int | None) -> str:
    """Return ``text`` cut to ``max_chars`` with a marker saying how much was dropped."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[truncated {len(text) - max_chars} chars]"


def content_text(content: Any, max_chars: int | None) -> Any:
    """A message's content: a string, or its blocks with their text cut."""
    if isinstance(content, str):
        return cut(content, max_chars)
    if isinstance(content, list):
        return [to_loggable(block, max_chars) for block in content[:_MAX_ITEMS]]
    return to_loggable(content, max_chars)


def tool_call_dict(call: Mapping[str, Any], max_chars: int | None) -> dict[str, Any]:
    """A requested tool call as ``{name, args, id}``."""
    return {
        "name": call.get("name"),
        "args": to_loggable(call.get("args"), max_chars),
        "id": call.get("id"),
    }


def message_dict(message: BaseMessage, max_chars: int | None) -> dict[str, Any]:
    """A message as ``{role, content}`` plus name, tool calls and tool call id when present."""
    content = message.content
    out: dict[str, Any] = {
        "role": message.type,
        "content": content
        if type(content) is str and (max_chars is None or len(content) <= max_chars)
        else content_text(content, max_chars),
    }
    if message.name:
        out["name"] = message.name
    if isinstance(message, AIMessage):
        if message.tool_calls:
            out["tool_calls"] = [tool_call_dict(call, max_chars) for call in message.tool_calls]
    elif isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
        if message.status != "success":
            out["status"] = message.status
    return out


def document_dict(document: Document, max_chars: int | None) -> dict[str, Any]:
    """A retrieved document as ``{id, page_content, metadata}``."""
    return {
        "id": document.id,
        "page_content": cut(document.page_content, max_chars),
        "metadata": to_loggable(document.metadata, max_chars),
    }


def _goto(goto: Any, max_chars: int | None) -> list[Any]:
    items = goto if isinstance(goto, (list, tuple)) else [goto]
    return [to_loggable(item, max_chars) for item in items]


def to_loggable(value: Any, max_chars: int | None, depth: int = 0) -> Any:
    """Return a JSON-ready form of ``value`` (messages, documents, Send, Command, models...).

    Args:
        value: Anything a callback received: state, inputs, outputs.
        max_chars: Characters kept of each text body (``None``: the core's limit alone).
        depth: Nesting level reached (deeper values become their type name).
    """
    kind = type(value)
    if kind is str:
        return value if max_chars is None or len(value) <= max_chars else cut(value, max_chars)
    if kind in _EXACT_PLAIN or isinstance(value, _PLAIN):
        return cut(value, max_chars) if isinstance(value, str) else value
    if depth >= _MAX_DEPTH:
        return f"<{kind.__name__}>"
    depth += 1
    # The common containers by exact type first: an ABC check (``Mapping``) costs far more.
    if kind is dict:
        return _mapping(value, max_chars, depth)
    if kind is list or kind is tuple:
        return _sequence(value, max_chars, depth)
    if isinstance(value, BaseMessage):
        return message_dict(value, max_chars)
    if isinstance(value, Mapping):
        return _mapping(value, max_chars, depth)
    if isinstance(value, (list, tuple)):
        return _sequence(value, max_chars, depth)
    if isinstance(value, Send):
        return {"send": value.node, "arg": to_loggable(value.arg, max_chars, depth)}
    if isinstance(value, Command):
        command: dict[str, Any] = {}
        if value.goto:
            command["goto"] = _goto(value.goto, max_chars)
        if value.update is not None:
            command["update"] = to_loggable(value.update, max_chars, depth)
        if value.resume is not None:
            command["resume"] = to_loggable(value.resume, max_chars, depth)
        if value.graph is not None:
            command["graph"] = value.graph
        return {"command": command}
    if isinstance(value, Interrupt):
        return {"interrupt": to_loggable(value.value, max_chars, depth), "id": value.id}
    if isinstance(value, Document):
        return document_dict(value, max_chars)
    if isinstance(value, BaseModel):
        try:
            dumped = value.model_dump(mode="python")
        except Exception:
            return f"<{type(value).__name__}>"
        return to_loggable(dumped, max_chars, depth)
    if isinstance(value, (set, frozenset)):
        return [to_loggable(item, max_chars, depth) for item in list(value)[:_MAX_ITEMS]]
    # Anything else (datetime, UUID, dataclasses, ...) is left to the core's encoder.
    return value


def _mapping(value: Mapping[Any, Any], max_chars: int | None, depth: int) -> dict[str, Any]:
    if len(value) <= _MAX_ITEMS:
        return {str(key): to_loggable(item, max_chars, depth) for key, item in value.items()}
    out: dict[str, Any] = {}
    for index, (key, item) in enumerate(value.items()):
        if index >= _MAX_ITEMS:
            out["…"] = f"{len(value) - _MAX_ITEMS} more"
            break
        out[str(key)] = to_loggable(item, max_chars, depth)
    return out


def _sequence(value: Sequence[Any], max_chars: int | None, depth: int) -> list[Any]:
    items = [to_loggable(item, max_chars, depth) for item in value[:_MAX_ITEMS]]
    if len(value) > _MAX_ITEMS:
        items.append(f"…{len(value) - _MAX_ITEMS} more")
    return items


def route_labels(output: Any) -> tuple[list[Any], list[str]] | None:
    """Labels and target nodes of a routing decision, or ``None`` if ``output`` is not one.

    A conditional edge's path function returns a label, a list of labels, a ``Send`` or a list of
    ``Send``; a node returns a ``Command`` (or a list of them) to route by itself.
    """
    if isinstance(output, str):
        return [output], [output]
    if isinstance(output, Send):
        return [output.node], [output.node]
    if isinstance(output, Command):
        targets = [
            item.node if isinstance(item, Send) else str(item) for item in _as_list(output.goto)
        ]
        return (targets, targets) if targets else None
    if isinstance(output, Sequence) and output and not isinstance(output, (bytes, str)):
        labels: list[Any] = []
        targets = []
        for item in output:
            if isinstance(item, Send):
                labels.append(item.node)
                targets.append(item.node)
            elif isinstance(item, str):
                labels.append(item)
                targets.append(item)
            elif isinstance(item, Command):
                found = route_labels(item)
                if found:
                    labels.extend(found[0])
                    targets.extend(found[1])
            else:
                return None
        return labels, targets
    return None


def _as_list(goto: Any) -> list[Any]:
    if goto is None or goto == ():
        return []
    return list(goto) if isinstance(goto, (list, tuple)) else [goto]
