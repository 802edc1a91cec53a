"""`pulumi_command.local.Command`, loaded once under this module's import lock.

The generated `pulumi_command` SDK loads its `local` submodule through
`importlib.util.LazyLoader`, which is not thread-safe on Python 3.11: when two shard
programs run in threads at once (`FleetManager.preview`/`up` of a whole tier) and both touch
`pulumi_command.local` for the first time, one of them can see the half-executed module and
fail with "module 'pulumi_command.local' has no attribute 'Command'". Importing the class
here, at module level, makes the first importer run the lazy load while every other thread
waits on this module's import lock.
"""

from __future__ import annotations

from pulumi_command.local import Command

__all__ = ["Command"]
