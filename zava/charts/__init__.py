"""Charts of tool results: a chart chosen from the result's shape (``shapes``), its
Vega-Lite spec (``specs``), rendered in-process by vl-convert to PNG and SVG (``render``),
and a script-free HTML page around the SVG (``page``). Nothing here imports MCP: the
server attaches the rendered chart to a tool result (``zava.server.chart_results``)."""
