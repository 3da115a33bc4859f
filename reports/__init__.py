"""School reports: self-contained HTML rendered and printed to PDF."""
