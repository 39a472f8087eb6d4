"""Wire formats: XML (XSD-validated, hardened) and CSV (column specs in schemas/)."""

from filebridge.formats.base import Codec, codec_for

__all__ = ["Codec", "codec_for"]
