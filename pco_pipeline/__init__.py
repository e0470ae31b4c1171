"""pco_pipeline: keep a church's own PostgreSQL database in two-way sync with Planning Center Online."""

__version__ = "0.1.0"
