from gongkai_shared.cli import service_main

service_main("gongkai_requests", "gongkai_requests.settings:RequestsSettings")
