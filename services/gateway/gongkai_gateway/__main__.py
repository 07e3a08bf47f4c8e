import os
import sys

from gongkai_shared.cli import service_main

from gongkai_gateway.cli import create_user_main


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # The gateway's own subcommand; migrate | api | worker | revision are every service's.
    if argv[:1] == ["create-user"]:
        sys.exit(create_user_main(argv[1:]))
    if argv[:1] == ["api"]:
        # The gateway decides itself whose X-Forwarded-* it believes (GK_GATEWAY_TRUSTED_PROXIES,
        # forwarded.py). uvicorn's own proxy-header handling, which the shared runner turns on and
        # which believes 127.0.0.1 whatever the setting, would rewrite the caller's address before
        # the gateway sees the peer: an empty FORWARDED_ALLOW_IPS makes it believe nobody.
        os.environ["FORWARDED_ALLOW_IPS"] = ""
    service_main("gongkai_gateway", "gongkai_gateway.settings:GatewaySettings", argv)


if __name__ == "__main__":
    main()
