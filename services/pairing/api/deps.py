"""What every router needs: the unit of work, a connection and the tenant (see shared.http)."""

from shared.http import Connection, Tenant, UoW

__all__ = ["Connection", "Tenant", "UoW"]
