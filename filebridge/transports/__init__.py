"""Transports: how filebridge reaches a partner's drop folders (local, sftp, memory)."""

from filebridge.transports.base import FolderCheck, RemoteFile, Transport, WakeCallback

__all__ = ["FolderCheck", "RemoteFile", "Transport", "WakeCallback"]
