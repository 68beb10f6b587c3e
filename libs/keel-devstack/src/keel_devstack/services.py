"""The services of the mesh, as data: what to run, in which order, with what database."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from dataclasses import dataclass, field
from typing import Literal

Stage = Literal["migrate", "serve"]


@dataclass(frozen=True)
class ServiceDef:
    """One service process: `python -m <module>` serves, `python -m <module> migrate` migrates."""

    name: str
    module: str
    port: int
    """Preferred gRPC port (stable for humans); a free one is used if it is taken."""
    database: str | None = None
    depends_on: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for this service only."""
    path: tuple[str, ...] = ()
    """Extra import paths (PYTHONPATH) for a module outside the installed packages."""

    def importable(self) -> bool:
        if self.path:
            return (
                importlib.machinery.PathFinder.find_spec(self.module, list(self.path)) is not None
            )
        return importlib.util.find_spec(self.module) is not None

    def argv(self, python: str, stage: Stage) -> list[str]:
        return [python, "-m", self.module] + (["migrate"] if stage == "migrate" else [])


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("identity", "identity", 50051, database="keel_identity"),
    ServiceDef("ledger", "ledger", 50052, database="keel_ledger"),
    ServiceDef("items", "items", 50053, database="keel_items", depends_on=("identity",)),
    ServiceDef("billing", "billing", 50054, database="keel_billing", depends_on=("ledger",)),
)


def in_start_order(
    services: tuple[ServiceDef, ...], only: set[str] | None = None
) -> list[ServiceDef]:
    """Dependencies first; `only` selects some services and pulls in what they depend on."""
    by_name = {svc.name: svc for svc in services}
    unknown = (only or set()) - by_name.keys()
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))}")
    ordered: list[ServiceDef] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if any(svc.name == name for svc in ordered):
            return
        if name in visiting:
            raise ValueError(f"dependency cycle through {name}")
        visiting.add(name)
        for dep in by_name[name].depends_on:
            visit(dep)
        ordered.append(by_name[name])

    for svc in services:
        if only is None or svc.name in only:
            visit(svc.name)
    return ordered
