"""The SRE console: SLOs and error budgets as charts, chaos drills with their governed actions, live
runs and reports, synthetic probes and alerts. Views are thin: every figure comes from the SLO
engine's selectors and every action goes through the chaos services the API uses."""
