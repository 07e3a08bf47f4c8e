from gongkai_shared.cli import service_main

service_main("gongkai_catalog", "gongkai_catalog.settings:CatalogSettings")
