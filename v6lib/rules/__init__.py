"""Rules the server, the node and the MockNetwork share: pure functions, written once.

Why a package of its own: the MockNetwork promises that an algorithm passing on it works
the same in production. That only holds if the mock applies production's rules, not a
copy of them. Every rule with more than one owner (task status from run statuses, the
node's policy decisions, what a container token may see, task request normalization,
how failed runs are reported) lives here; ``server``, ``node`` and ``mock`` import it,
and nothing here imports them (import-linter checks it).
"""
