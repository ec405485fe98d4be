"""Shapes of the JSON API (input and output), kept apart from storage rows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    csrf_token: str
    username: str
    role: str


class QueueItem(BaseModel):
    id: str
    status: str
    priority: int
    reasons: list[str]
    received_at: str
    pages: int | None = None
    claimed_by: str | None = None


class NextOut(BaseModel):
    id: str


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    action: Literal["new", "link", "reject", "query"]
    mrn: str | None = Field(default=None, max_length=32)
    fields: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=2000)


class DecisionOut(BaseModel):
    id: str
    status: str
    version: int
    action: str
    mrn: str | None = None


class Edits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    fields: dict[str, Any]


class SavedOut(BaseModel):
    id: str
    version: int
    changed: list[str]


class Reassign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, max_length=64)


class AuditOut(BaseModel):
    at: str
    user: str | None
    action: str
    object: str | None
    ip: str | None
    detail: dict[str, Any] = {}


class Problem(BaseModel):
    detail: str
