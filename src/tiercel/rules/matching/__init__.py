"""Matching events against compiled rules.

    ruleset          CompiledRule, and the Ruleset: rule selection and the evt.type index
    plan             per-event-type plans: conditions specialised to one event type
    prefilter        keyed plans: cheap necessary checks memoised per field value
    implied_checks   what a condition implies, how often its checks hold, what they cost
"""
