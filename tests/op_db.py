"""The one operator specification table: every category's specs, in one list."""
from opspecs import elementwise

OP_DB = [*elementwise.SPECS]
