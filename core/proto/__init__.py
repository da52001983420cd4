"""Protocol codecs' common ground: the HTTP/1 codec interface (:mod:`.h1`), reason phrases
and HAProxy's built-in pages (:mod:`.pages`), error replies with overrides (:mod:`.errors`)."""

from .errors import error_message
from .h1 import H1Callbacks, H1Error, H1Limits, H1Parser
from .pages import default_page, reason

__all__ = ["H1Callbacks", "H1Error", "H1Limits", "H1Parser", "default_page", "error_message",
           "reason"]
