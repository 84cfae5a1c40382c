"""Settings: typed, grouped and validated before anything runs (no I/O beyond reading `.env`)."""

from llm_twin.config.loader import build_settings, load_settings
from llm_twin.config.model import Secret, Settings, Target

__all__ = ["Secret", "Settings", "Target", "build_settings", "load_settings"]
