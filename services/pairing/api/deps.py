"""What every router needs: the unit of work and a connection (see shared.http)."""

from shared.http import Connection, UoW

__all__ = ["Connection", "UoW"]
