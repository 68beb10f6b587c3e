"""Each test's database is a copy of the billing schema, migrated once per session."""

from __future__ import annotations

import pytest

from billing.storage.schema import SCHEMA
from keel_devstack.pytest_plugin import MigratedTemplates


@pytest.fixture
def database_template(migrated_templates: MigratedTemplates) -> str:
    return migrated_templates(SCHEMA)
