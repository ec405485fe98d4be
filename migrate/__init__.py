"""chartmigrate: scanned paper charts -> cleaned, OCR'd, extracted, matched draft records."""

__version__ = "0.1.0"
