"""neon-tenants: one Neon project per tenant, as infrastructure as code."""

__version__ = "0.1.0"
