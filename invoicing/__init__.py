"""Accounts-payable rules without I/O: corrections, validation checks, the invoice's trail."""
