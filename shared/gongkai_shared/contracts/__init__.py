"""Event payloads: the contract between producers and consumers, one module per producer.

Services cannot import each other, so the payload models live here; a producer builds them, a
consumer validates them. Changing a payload incompatibly means a new version (``….v2``).
"""
