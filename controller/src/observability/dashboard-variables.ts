// What Grafana puts in place of a dashboard's variables, for running its queries
// outside Grafana: the checks in test/dashboards and the local end-to-end run.

/** Grafana's built-in intervals and each variable's value ('.*' is "All"). */
export function substituteVariables(
  expr: string,
  values: Record<string, string>,
  intervals = { rate: '1m', interval: '15s' },
): string {
  return expr
    .replace(/\$__rate_interval/g, intervals.rate)
    .replace(/\$__interval/g, intervals.interval)
    .replace(/\$\{?([a-zA-Z_]+)\}?/g, (whole, name: string) => values[name] ?? whole);
}
