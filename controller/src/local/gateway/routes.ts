// The gateway's route table has the shape of an Istio VirtualService spec, so the
// same YAML works locally and in a cluster. Pure: parsing, matching, picking.
import { z } from 'zod';
import { parseDuration } from '../../../../predictor/src/duration.js';
import { formatIssues } from '../../api/validate.js';

const stringMatch = z
  .object({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() })
  .refine((m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1, 'needs exactly one of exact, prefix, regex');

const destination = z.object({
  host: z.string().min(1),
  subset: z.string().optional().describe('the version label; locally, the backend group'),
});

const duration = z.string().refine((text) => {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}, 'is not a duration such as 500ms or 2s');

export const httpRouteSchema = z.object({
  name: z.string().optional(),
  match: z.array(z.object({ headers: z.record(z.string(), stringMatch).optional(), uri: stringMatch.optional() })).optional(),
  route: z.array(z.object({ destination, weight: z.number().int().min(0).max(100).optional() })).min(1, 'needs at least one destination'),
  mirror: destination.optional(),
  mirrorPercentage: z.object({ value: z.number().min(0).max(100) }).optional(),
  timeout: duration.optional(),
  retries: z.object({ attempts: z.number().int().min(0).max(10), perTryTimeout: duration.optional(), retryOn: z.string().optional() }).optional(),
});

export const routeTableSchema = z.object({
  hosts: z.array(z.string()).optional(),
  http: z.array(httpRouteSchema).min(1, 'needs at least one HTTP route'),
});

export type HttpRoute = z.output<typeof httpRouteSchema>;
export type RouteTable = z.output<typeof routeTableSchema>;
export type Destination = z.output<typeof destination>;

/** Validates a route table (a VirtualService spec, or a whole VirtualService whose spec is used). */
export function parseRouteTable(input: unknown): RouteTable {
  const spec = input !== null && typeof input === 'object' && 'spec' in (input as object) ? (input as { spec: unknown }).spec : input;
  const parsed = routeTableSchema.safeParse(spec, { reportInput: true });
  if (!parsed.success) throw new RangeError(formatIssues(parsed.error.issues, spec, 'spec').join('; '));
  parsed.data.http.forEach((route, i) => {
    const weights = route.route.map((r) => r.weight ?? (route.route.length === 1 ? 100 : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    if (total !== 100) throw new RangeError(`spec.http[${i}].route: weights add up to ${total}; they must add up to 100`);
  });
  return parsed.data;
}

/** A case-insensitive view of request headers, as node:http gives them (lowercase keys). */
export type Headers = Record<string, string | string[] | undefined>;

function matches(m: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined }, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (m.exact !== undefined) return value === m.exact;
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  // Istio matches regexes against the whole value (RE2 full match).
  return new RegExp(`^(?:${m.regex!})$`).test(value);
}

/** The first route whose match applies (a route without match applies to everything), as Istio evaluates them. */
export function selectRoute(table: RouteTable, path: string, headers: Headers): HttpRoute | undefined {
  return table.http.find((route) => {
    if (!route.match || route.match.length === 0) return true;
    return route.match.some((m) => {
      const headerOk = Object.entries(m.headers ?? {}).every(([name, condition]) => {
        const raw = headers[name.toLowerCase()];
        return matches(condition, Array.isArray(raw) ? raw.join(', ') : raw);
      });
      return headerOk && (!m.uri || matches(m.uri, path));
    });
  });
}

/** Weighted choice of a destination; `draw` is uniform in [0, 1). */
export function pickDestination(route: HttpRoute, draw: number): Destination {
  const weights = route.route.map((r) => r.weight ?? (route.route.length === 1 ? 100 : 0));
  let point = draw * 100;
  for (let i = 0; i < route.route.length; i++) {
    if (point < weights[i]!) return route.route[i]!.destination;
    point -= weights[i]!;
  }
  return route.route.findLast((_, i) => weights[i]! > 0)!.destination;
}

/** The weights of the named route (or the first without matches), by subset: what `weir` reads back. */
export function weightsOf(table: RouteTable, routeName: string): Record<string, number> {
  const route = table.http.find((r) => r.name === routeName);
  if (!route) throw new RangeError(`route "${routeName}" not found; routes: ${table.http.map((r) => r.name ?? '(unnamed)').join(', ')}`);
  return Object.fromEntries(route.route.map((r) => [r.destination.subset ?? r.destination.host, r.weight ?? 100]));
}

/** A copy of the table with the named route's weights replaced (and mirroring set), touching nothing else. */
export function withWeights(table: RouteTable, routeName: string, weights: Record<string, number>, mirror?: { subset: string; percent: number }): RouteTable {
  const index = table.http.findIndex((r) => r.name === routeName);
  if (index < 0) throw new RangeError(`route "${routeName}" not found; routes: ${table.http.map((r) => r.name ?? '(unnamed)').join(', ')}`);
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  if (total !== 100) throw new RangeError(`weights add up to ${total}; they must add up to 100`);
  const route = table.http[index]!;
  const host = route.route[0]!.destination.host;
  const next: HttpRoute = { ...route, route: Object.entries(weights).map(([subset, weight]) => ({ destination: { host, subset }, weight })) };
  if (mirror && mirror.percent > 0) {
    next.mirror = { host, subset: mirror.subset };
    next.mirrorPercentage = { value: mirror.percent };
  } else {
    delete next.mirror;
    delete next.mirrorPercentage;
  }
  return { ...table, http: table.http.map((r, i) => (i === index ? next : r)) };
}
