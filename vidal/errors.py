"""The one error type vidal raises for bad input, and its few refinements."""

from __future__ import annotations

__all__ = ["VidalError", "DecodeError", "AnnotationError", "ConfigError", "BudgetError"]


class VidalError(Exception):
    """Base class of every error vidal raises on purpose (bad input, bad config, bad file)."""


class DecodeError(VidalError):
    """A video file or frame folder that cannot be decoded; the message names the file."""


class AnnotationError(VidalError):
    """An annotation file that is malformed or disagrees with itself; the message names it."""


class ConfigError(VidalError):
    """An unknown name or an invalid value in a config, CLI flag or argument."""


class BudgetError(VidalError):
    """A budget that cannot be met (negative, or larger than what is left to label)."""
