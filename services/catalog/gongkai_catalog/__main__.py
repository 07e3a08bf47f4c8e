import sys

from gongkai_shared.cli import service_main

if sys.argv[1:2] == ["reindex"]:
    # Rebuild the search index from item_search (gongkai_catalog/search_index_writer.py).
    from gongkai_catalog.search_index_writer import reindex_main

    sys.exit(reindex_main(sys.argv[2:]))

service_main("gongkai_catalog", "gongkai_catalog.settings:CatalogSettings")
