from .apps import App, AppVersion, Category, ChartArchive, ReviewDecision
from .releases import Release, ReleaseRevision, ReleaseStatus
from .repositories import Repository
from .roles import AppRole

__all__ = ["App", "AppRole", "AppVersion", "Category", "ChartArchive", "Release", "ReleaseRevision", "ReleaseStatus",
           "Repository", "ReviewDecision"]
