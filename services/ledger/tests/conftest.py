"""Each test's database is a copy of the ledger schema, migrated once per session."""

from __future__ import annotations

import pytest

from keel_devstack.pytest_plugin import MigratedTemplates
from ledger.storage.schema import SCHEMA


@pytest.fixture
def database_template(migrated_templates: MigratedTemplates) -> str:
    return migrated_templates(SCHEMA)
