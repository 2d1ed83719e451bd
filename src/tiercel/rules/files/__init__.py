"""Rule files: YAML in, compiled rules and every diagnostic out.

    reader           YAML -> located nodes (every value knows its file:line:col)
    definitions      the lists, macros, rules and exceptions a file defines, decoded from YAML
    collector        Falco's definition order: append, override, enable
    rule_exceptions  a rule's `exceptions:` turned into condition text
    loader           the pipeline: read -> collect -> parse -> passes -> compile -> Ruleset
    diagnostics      LoadResult: errors and warnings with stable codes, rendered as text or JSON
    validate         `tiercel validate`
"""
