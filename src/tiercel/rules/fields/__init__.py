"""The fields a condition or an output may name: one module per field class, one registry.

    spec          FieldSpec (a table row) and FieldDef (a row bound to its argument)
    table         FIELDS, the registry, and FieldTable, which resolves `name[arg]`
    evt, evtinfo  evt.* and syscall.type; the event tables behind evt.category and friends
    proc, fd      proc.* / thread.*; fd.*, fs.path.* and evt.abspath*
    user          user.* and group.*
    container     container.* and k8s.*
    listing       `tiercel list-fields`, printed from the same table
"""
