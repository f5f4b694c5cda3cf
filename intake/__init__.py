"""Mail intake without I/O: parsing mails into documents, and the screening rules."""
