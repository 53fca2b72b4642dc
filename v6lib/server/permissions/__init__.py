"""Permissions: the rule catalogue, default roles, principals and the one policy engine."""
