"""The shared kernel of Gongkai: what every service uses, and nothing that belongs to one service.

A service imports this package and never another service; this package imports no service
(import-linter checks both in CI).
"""
