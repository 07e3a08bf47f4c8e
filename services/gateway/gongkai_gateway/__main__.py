import sys

from gongkai_shared.cli import service_main

from gongkai_gateway.cli import create_user_main


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # The gateway's own subcommand; migrate | api | worker | revision are every service's.
    if argv[:1] == ["create-user"]:
        sys.exit(create_user_main(argv[1:]))
    service_main("gongkai_gateway", "gongkai_gateway.settings:GatewaySettings", argv)


if __name__ == "__main__":
    main()
