from gongkai_shared.cli import service_main

service_main("gongkai_sentiment", "gongkai_sentiment.settings:SentimentSettings")
