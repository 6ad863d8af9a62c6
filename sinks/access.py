"""Tenant isolation in ClickHouse: one user per tenant, row policies on every table and view.

A tenant user reads the analyst views and its own raw tables; row policies keep it to
rows where it is the viewing tenant (``tenant_id``). Policies are RESTRICTIVE for the
tenant user, next to one PERMISSIVE ``coselling_see_all`` policy for everyone, so other
users (the sink, analysts) still see every row. ``overlap_state`` is not granted at all:
its COUNTS-only rows name companies a partner shares only as a number; the views, which
run with their definer's rights, are the way in. On a cluster the policies go on the
Distributed tables and on the ``_local`` tables (shards apply them when the cluster passes
the initial user on, i.e. has an interserver ``<secret>``).

Pure: builds statements; ``coselling tenant-access`` runs them.
"""

from __future__ import annotations

import hashlib
import re

from .migrate import Target
from .tables import TABLES, VIEWS

#: Tables a tenant user may read (its own rows only); every view is readable too.
TENANT_TABLES = ("intro_state", "attribution_state", "crm_events", "intro_events")
#: Every object carrying a policy: all tables and views have a ``tenant_id`` column.
POLICY_OBJECTS = tuple(TABLES) + VIEWS
SEE_ALL_POLICY = "coselling_see_all"


def _slug(tenant_id: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", tenant_id.lower()).strip("_")
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
    return f"{slug[:40]}_{digest}" if slug != tenant_id else slug


def tenant_user(tenant_id: str) -> str:
    """Default user name of a tenant (ids outside ``[a-z0-9_]`` get a hash suffix)."""
    return f"coselling_tenant_{_slug(tenant_id)}"


def quote_literal(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    """A ClickHouse identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def tenant_filter(tenant_id: str) -> str:
    """The row condition of the tenant's policies."""
    return f"tenant_id = {quote_literal(tenant_id)}"


def policy_objects(target: Target) -> list[str]:
    """Every table and view name policies go on (with ``_local`` tables on a cluster)."""
    names = list(POLICY_OBJECTS)
    if target.cluster:
        names += [target.local(t) for t in TABLES]
    return names


def access_statements(tenant_id: str, *, user: str, password: str, database: str,
                      target: Target) -> list[str]:
    """Statements that create (or update) the tenant's user, grants and row policies."""
    if not tenant_id:
        raise ValueError("tenant id must not be empty")
    u, db, on = quote_ident(user), quote_ident(database), target.on_cluster
    secret = hashlib.sha256(password.encode()).hexdigest()
    auth = f"IDENTIFIED WITH sha256_hash BY {quote_literal(secret)}"
    statements = [
        f"CREATE USER IF NOT EXISTS {u} {on} {auth} DEFAULT DATABASE {db}",
        f"ALTER USER {u} {on} {auth} DEFAULT DATABASE {db}",
    ]
    policy = quote_ident(f"coselling_tenant_{_slug(tenant_id)}")
    for name in policy_objects(target):
        obj = f"{db}.{quote_ident(name)}"
        statements.append(f"CREATE ROW POLICY IF NOT EXISTS {SEE_ALL_POLICY} {on} ON {obj} "
                          "AS PERMISSIVE FOR SELECT USING 1 TO ALL")
        statements.append(f"CREATE ROW POLICY OR REPLACE {policy} {on} ON {obj} "
                          f"AS RESTRICTIVE FOR SELECT USING {tenant_filter(tenant_id)} TO {u}")
    for name in (*VIEWS, *TENANT_TABLES):
        statements.append(f"GRANT {on} SELECT ON {db}.{quote_ident(name)} TO {u}")
    return [" ".join(s.split()) for s in statements]
