"""The meetings service asks the contact directory for its notices' recipients through
the shared client (``services.common.notifications.directory``)."""

from services.common.notifications.directory import ContactsDirectory, DirectoryUnavailable

__all__ = ["ContactsDirectory", "DirectoryUnavailable"]
