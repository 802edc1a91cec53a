"""One router module per spec tag, plus the developer API in admin.py."""
