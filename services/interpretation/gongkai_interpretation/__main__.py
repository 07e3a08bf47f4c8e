from gongkai_shared.cli import service_main

service_main("gongkai_interpretation", "gongkai_interpretation.settings:InterpretationSettings")
