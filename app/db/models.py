"""SQLAlchemy 2 models: users (Clerk ids), strategies (prompt, code, class name) and backtests."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Backtest", "BacktestStatus", "Base", "Strategy", "StrategyStatus", "User"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _enum(cls: type[enum.StrEnum]) -> Enum:
    """A portable enum column storing the values (``running``), checked by a constraint."""
    return Enum(
        cls,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base of every GenTrade table."""


class StrategyStatus(enum.StrEnum):
    """Where a strategy is in its life: drafted from a prompt, given code, or failed."""

    DRAFT = "draft"
    READY = "ready"
    FAILED = "failed"


class BacktestStatus(enum.StrEnum):
    """Where a backtest is: queued, running, finished with a result, or failed with an error."""

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class User(Base):
    """A user, known by the Clerk id (the JWT's subject)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clerk_id: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    strategies: Mapped[list[Strategy]] = relationship(back_populates="user")


class Strategy(Base):
    """A trading strategy: the user's prompt, the generated code and its class name."""

    __tablename__ = "strategies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text, default=None)
    class_name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[StrategyStatus] = mapped_column(
        _enum(StrategyStatus), default=StrategyStatus.DRAFT
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    user: Mapped[User] = relationship(back_populates="strategies")
    backtests: Mapped[list[Backtest]] = relationship(back_populates="strategy")


class Backtest(Base):
    """One backtest of a strategy over a timerange: status, result summary or error."""

    __tablename__ = "backtests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[BacktestStatus] = mapped_column(
        _enum(BacktestStatus), default=BacktestStatus.PENDING
    )
    timerange: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(255), default=None)
    result_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    strategy: Mapped[Strategy] = relationship(back_populates="backtests")
