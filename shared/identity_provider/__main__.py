"""`python -m shared.identity_provider --port 9400`: the demo provider until Ctrl-C, for trying things by hand."""

from __future__ import annotations

import argparse
import threading

from shared.identity_provider.provider import LocalIdentityProvider


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.identity_provider", description=__doc__)
    parser.add_argument("--port", type=int, default=9400, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--audience", default="tandem", help="the access tokens' aud")
    args = parser.parse_args(argv)

    with LocalIdentityProvider(audience=args.audience, port=args.port) as idp:
        print(f"issuer    {idp.issuer}")
        print(f"discovery {idp.discovery_url}")
        print("\nusers (password: their own, 'tandem' for the demo ones)")
        for u in idp.users.values():
            extra = f"  {u.employee_id}" if u.employee_id else ""
            print(f"  {u.username:<10} {u.name:<22} {','.join(u.roles):<12} tenant {u.tenant}{extra}")
        print("\nclients")
        for c in idp.clients.values():
            secret = f"secret {c.secret}" if c.secret else "public (PKCE)"
            print(f"  {c.client_id:<20} {','.join(c.grant_types):<40} {secret}")
        print("\nCtrl-C stops it.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
