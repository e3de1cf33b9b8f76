"""The intents, as data: one entry per kind of question. An entry names its handler module
(assistant/answering/handlers/<module>.py, which defines `applies(plan)` and `handle(ctx, plan)`), its
priority (lower is tried first), whether a follow-up carries it (那工信局呢 after a department question
is a department question), whether LLM mode keeps its extractive answer (exact look-ups), and whether
it answers about one clause (so that a bare pointer with nothing to point at is asked back).
Adding an intent is one entry here plus its module."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from assistant.answering.plan import Plan


@dataclass(frozen=True)
class IntentSpec:
    name: str
    priority: int
    module: str = ""
    carries: bool = False
    exact: bool = False
    needs_clause: bool = False
    asks_back: bool = False  # not routed to by its own detector: it replaces a needs_clause intent whose pointer points at nothing
    labels: tuple[str, ...] = field(default=())  # the Answer.intent values its handler writes (default: its name)

    @property
    def handler(self) -> ModuleType:
        target = self.module or self.name
        return importlib.import_module(target if "." in target else f"assistant.answering.handlers.{target}")

    @property
    def answer_labels(self) -> tuple[str, ...]:
        return self.labels or (self.name,)


REGISTRY: tuple[IntentSpec, ...] = (
    IntentSpec("hostile", 10, exact=True),
    IntentSpec("chitchat", 20, exact=True),
    IntentSpec("clarify", 30, exact=True, asks_back=True),
    IntentSpec("metadata", 40, carries=True, exact=True),
    IntentSpec("membership", 50, exact=True, needs_clause=True),
    IntentSpec("department", 60, carries=True, exact=True, labels=("reverse_lead", "reverse_coop", "reverse_any", "department")),
    IntentSpec("joint_lead", 70, exact=True),
    IntentSpec("units", 80, carries=True, exact=True, needs_clause=True, labels=("lead", "coop", "units")),
    IntentSpec("locate", 90, exact=True),
    IntentSpec("listing", 100, exact=True, needs_clause=True),
    IntentSpec("target", 110, carries=True, exact=True, needs_clause=True),
    IntentSpec("clause", 120, exact=True, needs_clause=True),
    IntentSpec("general", 999, needs_clause=True),
)


def specs(registry: tuple[IntentSpec, ...] | None = None) -> tuple[IntentSpec, ...]:
    return REGISTRY if registry is None else registry  # looked up when called, so an added entry counts


def by_name(name: str, registry: tuple[IntentSpec, ...] | None = None) -> IntentSpec:
    return next(spec for spec in specs(registry) if spec.name == name)


def label_owner(label: str, registry: tuple[IntentSpec, ...] | None = None) -> IntentSpec | None:
    """The intent whose handler writes this Answer.intent (a look-up that found nothing writes general)."""
    return next((spec for spec in specs(registry) if label in spec.answer_labels), None)


def route(plan: Plan, registry: tuple[IntentSpec, ...] | None = None) -> IntentSpec:
    """The first intent, by priority, whose handler says the plan is its kind of question; a question
    about one clause that points at nothing is asked back instead."""
    ordered = sorted(specs(registry), key=lambda s: s.priority)
    chosen = next((spec for spec in ordered if not spec.asks_back and spec.handler.applies(plan)), None) or by_name("general", registry)
    if chosen.needs_clause:
        return next((spec for spec in ordered if spec.asks_back and spec.handler.applies(plan)), chosen)
    return chosen


def exact_labels(registry: tuple[IntentSpec, ...] | None = None) -> frozenset[str]:
    """Answer.intent values LLM mode leaves extractive."""
    return frozenset(label for spec in specs(registry) if spec.exact for label in spec.answer_labels) | {"empty", "too_long"}
