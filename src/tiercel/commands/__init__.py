"""What the commands do: `tiercel run` (agent, app, matcher, control), `capture`, `explain`, `test`,
and Falco's own flag-style command line (falco_flags). cli.py parses; these act."""
