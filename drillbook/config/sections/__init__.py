"""One module per TOML table of the configuration file.

Each module holds its table's frozen dataclass(es), every field declared with its TOML key, kind
and documentation (`drillbook.config.schema`), the rules that tie several keys together, and a
`parse` function the loader builds the section with. `drillbook.config.model` re-exports every
dataclass and name, so code imports them from there.
"""
