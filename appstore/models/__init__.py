from .apps import App, AppVersion, Category, ChartArchive, ReviewDecision
from .repositories import Repository
from .roles import AppRole

__all__ = ["App", "AppRole", "AppVersion", "Category", "ChartArchive", "Repository", "ReviewDecision"]
