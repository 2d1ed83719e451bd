"""Falco's condition language, in the order a condition goes through it.

    lexer         the token shapes, read on demand
    parser        text -> syntax tree (the grammar is in its docstring)
    syntax        the tree's node types
    passes        expand macros, expand lists, derive event types (PASSES, in order)
    compiler      tree -> predicate, through a node-type -> handler table
    operators     comparison operators, built once per check
    transformers  tolower(), join(), getopt() ...
    literals      field type families and the conversion of a condition's constants

Nothing here knows about rule files or the field table: fields come in through the compiler's
FieldResolver protocol.
"""
