"""Each test's database is a copy of identity's schema, migrated once per session.

The template is migrated by the owner role, which grants the runtime role its privileges;
the tests (and the servers they start) connect as the runtime role, as the service does.
"""

from __future__ import annotations

import pytest

from identity.storage.schema import SCHEMA
from keel_devstack.pytest_plugin import MigratedTemplates


@pytest.fixture
def database_template(migrated_templates: MigratedTemplates) -> str:
    return migrated_templates(SCHEMA)


@pytest.fixture
def migrated_database_url(runtime_database_url: str) -> str:
    """A migrated database of its own, as the runtime role."""
    return runtime_database_url
