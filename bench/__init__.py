"""Side-by-side benchmarks: SynthGuard against the tool a user would otherwise pick."""
