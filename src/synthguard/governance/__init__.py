"""Governance services of the Provisions: complaints (Art. 12), rumor refutation (Art. 11),
algorithm and dataset registries (Art. 14, 15, 19, 20), policy documents (Art. 8),
service switches and regulator reports (Art. 10, 21).

Submodules are imported directly: the store registers `models` without pulling in the
rest.
"""
