"""Interactive explorers used by the lectures (given code). One module per topic, all built on ``base``."""
