"""MIME: parse a message once into a part tree with byte offsets and answer ENVELOPE,
BODY/BODYSTRUCTURE and ``BODY[section]`` from it (RFC 3501 sections 6.4.5 and 7.4.2).

Header values are returned raw; a message is never re-serialised through
:mod:`email.message`.
"""

from pyimapd.mime.model import Envelope, Part, dumps, loads, loads_root
from pyimapd.mime.normalize import CRLFNormalizer
from pyimapd.mime.parser import parse_message
from pyimapd.mime.search import search_fields, sent_date
from pyimapd.mime.sections import Section, filter_header_fields, locate
from pyimapd.mime.structure import bodystructure_value, envelope_value

__all__ = [
    "CRLFNormalizer",
    "Envelope",
    "Part",
    "Section",
    "bodystructure_value",
    "dumps",
    "envelope_value",
    "filter_header_fields",
    "loads",
    "loads_root",
    "locate",
    "parse_message",
    "search_fields",
    "sent_date",
]
