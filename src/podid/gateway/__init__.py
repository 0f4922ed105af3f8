"""The AWS endpoint: one visible request pipeline over the service providers, and the audit log."""
