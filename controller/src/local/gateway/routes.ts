// The gateway's route table has the shape of an Istio VirtualService spec, so the
// same YAML works locally and in a cluster. Pure: parsing, matching, picking.
// Regexes are RE2 (as Envoy's), compiled once when a table is parsed: a
// pattern that does not compile is refused then, and matching is linear time,
// so no header value can stall the gateway.
import { RE2JS } from 're2js';
import { z } from 'zod';
import { parseDuration } from '../../../../shared/duration.js';
import { formatIssues } from '../../api/validate.js';
import { UsageError } from '../../../../shared/errors.js';
import { stickyCookieRegex, stickyCookieValue, stickyRouteName } from '../../engine/route.js';

const stringMatch = z
  .object({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() })
  .refine(
    (m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1,
    'needs exactly one of exact, prefix, regex',
  );

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
  match: z
    .array(z.object({ headers: z.record(z.string(), stringMatch).optional(), uri: stringMatch.optional() }))
    .optional(),
  route: z
    .array(
      z.object({
        destination,
        weight: z.number().int().min(0).max(100).optional(),
        // Envoy's response header additions for this destination (weir's sticky cookie uses them).
        headers: z
          .object({ response: z.object({ add: z.record(z.string(), z.string()).optional() }).optional() })
          .optional(),
      }),
    )
    .min(1, 'needs at least one destination'),
  mirror: destination.optional(),
  mirrorPercentage: z.object({ value: z.number().min(0).max(100) }).optional(),
  timeout: duration.optional(),
  retries: z
    .object({
      attempts: z.number().int().min(0).max(10),
      perTryTimeout: duration.optional(),
      retryOn: z.string().optional(),
    })
    .optional(),
});

export const routeTableSchema = z.object({
  hosts: z.array(z.string()).optional(),
  http: z.array(httpRouteSchema).min(1, 'needs at least one HTTP route'),
});

export type HttpRoute = z.output<typeof httpRouteSchema>;
export type RouteTable = z.output<typeof routeTableSchema>;
export type Destination = z.output<typeof destination>;

/** RE2 patterns of a parsed table, by the match object that holds them. */
const compiled = new WeakMap<object, RE2JS>();

function compileMatch(m: { regex?: string | undefined }, field: string): void {
  if (m.regex === undefined) return;
  try {
    compiled.set(m, RE2JS.compile(m.regex));
  } catch (err) {
    throw new UsageError(
      `${field}.regex: ${JSON.stringify(m.regex)} is not an RE2 regular expression (${(err as Error).message})`,
    );
  }
}

/** Validates a route table (a VirtualService spec, or a whole VirtualService whose spec is used). */
export function parseRouteTable(input: unknown): RouteTable {
  const spec =
    input !== null && typeof input === 'object' && 'spec' in (input as object)
      ? (input as { spec: unknown }).spec
      : input;
  const parsed = routeTableSchema.safeParse(spec, { reportInput: true });
  if (!parsed.success) throw new UsageError(formatIssues(parsed.error.issues, spec, 'spec').join('; '));
  parsed.data.http.forEach((route, i) => {
    const weights = route.route.map((r) => r.weight ?? (route.route.length === 1 ? 100 : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    if (total !== 100)
      throw new UsageError(`spec.http[${i}].route: weights add up to ${total}; they must add up to 100`);
    route.match?.forEach((m, j) => {
      for (const [name, condition] of Object.entries(m.headers ?? {}))
        compileMatch(condition, `spec.http[${i}].match[${j}].headers.${name}`);
      if (m.uri) compileMatch(m.uri, `spec.http[${i}].match[${j}].uri`);
    });
  });
  return parsed.data;
}

/** A case-insensitive view of request headers, as node:http gives them (lowercase keys). */
export type Headers = Record<string, string | string[] | undefined>;

function matches(
  m: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined },
  value: string | undefined,
): boolean {
  if (value === undefined) return false;
  if (m.exact !== undefined) return value === m.exact;
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  // Istio matches regexes against the whole value (RE2 full match).
  const pattern = compiled.get(m);
  return pattern !== undefined && pattern.matches(value);
}

/** The first route whose match applies (a route without match applies to everything), as Istio evaluates them. */
export function selectRoute(table: RouteTable, path: string, headers: Headers): HttpRoute | undefined {
  return table.http.find((route) => {
    if (!route.match || route.match.length === 0) return true;
    return route.match.some((m) => {
      const headerOk = Object.entries(m.headers ?? {}).every(([name, condition]) => {
        const key = name.toLowerCase();
        const raw = Object.hasOwn(headers, key) ? headers[key] : undefined;
        return matches(condition, Array.isArray(raw) ? raw.join(', ') : raw);
      });
      return headerOk && (!m.uri || matches(m.uri, path));
    });
  });
}

/** Weighted choice of a route entry (its destination and response headers); `draw` is uniform in [0, 1). */
export function pickEntry(route: HttpRoute, draw: number): HttpRoute['route'][number] {
  const weights = route.route.map((r) => r.weight ?? (route.route.length === 1 ? 100 : 0));
  let point = draw * 100;
  for (let i = 0; i < route.route.length; i++) {
    if (point < weights[i]!) return route.route[i]!;
    point -= weights[i]!;
  }
  return route.route.findLast((_, i) => weights[i]! > 0)!;
}

/** The weights of the named route (or the first without matches), by subset: what `weir` reads back. */
export function weightsOf(table: RouteTable, routeName: string): Record<string, number> {
  const route = table.http.find((r) => r.name === routeName);
  if (!route)
    throw new UsageError(
      `route "${routeName}" not found; routes: ${table.http.map((r) => r.name ?? '(unnamed)').join(', ')}`,
    );
  return Object.fromEntries(route.route.map((r) => [r.destination.subset ?? r.destination.host, r.weight ?? 100]));
}

/** A destination's name: a version label, as Kubernetes labels allow. */
const SUBSET = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export interface WeightsChange {
  weights: Record<string, number>;
  mirror?: { subset: string; percent: number } | undefined;
  /** A cohort route: requests whose headers match all go to `subset` (strategy.headerRoute), in a route "<name>-weir-canary" before the owned one. */
  cohort?: { headers: Record<string, z.output<typeof stringMatch>>; subset: string } | undefined;
  /** Sticky assignment: each subset's responses set `cookie=<subset>`, and a route per subset sends requests carrying it back (see engine/route.ts). */
  sticky?: { cookie: string; maxAgeSeconds: number; subsets: string[] } | undefined;
}

/** The name of the cohort route weir adds before the route it owns, as the Istio router names it. */
export const cohortRouteName = (route: string) => `${route}-weir-canary`;

/**
 * Checks a weights change completely before anything applies: every name is a
 * destination the gateway knows (`known`, or already in the route), every
 * weight is a whole percentage, they add up to 100, and the mirror names a
 * known destination with a percentage from 0 to 100.
 */
export function parseWeightsChange(
  body: unknown,
  route: HttpRoute | undefined,
  known: ReadonlySet<string>,
): WeightsChange {
  const example = '{"weights": {"v1": 90, "v2": 10}}';
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new UsageError(`body: expected ${example}`);
  const { weights, mirror, cohort, sticky } = body as {
    weights?: unknown;
    mirror?: unknown;
    cohort?: unknown;
    sticky?: unknown;
  };
  if (weights === null || typeof weights !== 'object' || Array.isArray(weights))
    throw new UsageError(`weights: expected an object of destination → percentage, such as ${example}`);
  const inRoute = new Set((route?.route ?? []).map((d) => d.destination.subset ?? d.destination.host));
  const isKnown = (name: string) => SUBSET.test(name) && (known.has(name) || inRoute.has(name));
  const knownList = () => [...new Set([...known, ...inRoute])].join(', ') || 'none';
  const entries = Object.entries(weights as Record<string, unknown>);
  if (entries.length === 0) throw new UsageError(`weights: empty; expected ${example}`);
  const checked: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [name, weight] of entries) {
    if (!isKnown(name))
      throw new UsageError(`weights.${name}: not a destination this gateway knows; known: ${knownList()}`);
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100)
      throw new UsageError(`weights.${name}: ${JSON.stringify(weight)} is not a whole percentage from 0 to 100`);
    checked[name] = weight;
  }
  const total = Object.values(checked).reduce((a, b) => a + b, 0);
  if (total !== 100) throw new UsageError(`weights: add up to ${total}; they must add up to 100`);
  const parsedCohort = parseCohort(cohort, isKnown, knownList);
  const parsedSticky = parseSticky(sticky, isKnown, knownList);
  const withCohort = {
    ...(parsedCohort ? { cohort: parsedCohort } : {}),
    ...(parsedSticky ? { sticky: parsedSticky } : {}),
  };
  if (mirror === undefined || mirror === null) return { weights: { ...checked }, ...withCohort };
  if (typeof mirror !== 'object' || Array.isArray(mirror))
    throw new UsageError('mirror: expected {"subset": "v2", "percent": 10}');
  const { subset, percent } = mirror as { subset?: unknown; percent?: unknown };
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    throw new UsageError(`mirror.percent: ${JSON.stringify(percent)} is not a percentage from 0 to 100`);
  if (percent > 0 && (typeof subset !== 'string' || !isKnown(subset)))
    throw new UsageError(
      `mirror.subset: ${JSON.stringify(subset)} is not a destination this gateway knows; known: ${knownList()}`,
    );
  return {
    weights: { ...checked },
    ...(percent > 0 ? { mirror: { subset: subset as string, percent } } : {}),
    ...withCohort,
  };
}

/** A weights change's sticky assignment: a cookie name, its max age in seconds, and known subsets. */
function parseSticky(
  sticky: unknown,
  isKnown: (name: string) => boolean,
  knownList: () => string,
): WeightsChange['sticky'] {
  if (sticky === undefined || sticky === null) return undefined;
  const example = '{"cookie": "weir-version", "maxAgeSeconds": 86400, "subsets": ["v2"]}';
  if (typeof sticky !== 'object' || Array.isArray(sticky)) throw new UsageError(`sticky: expected ${example}`);
  const { cookie, maxAgeSeconds, subsets } = sticky as { cookie?: unknown; maxAgeSeconds?: unknown; subsets?: unknown };
  if (typeof cookie !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(cookie))
    throw new UsageError(`sticky.cookie: ${JSON.stringify(cookie)} is not a cookie name (letters, digits, - and _)`);
  if (typeof maxAgeSeconds !== 'number' || !Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1)
    throw new UsageError(
      `sticky.maxAgeSeconds: ${JSON.stringify(maxAgeSeconds)} is not a whole number of seconds >= 1`,
    );
  if (!Array.isArray(subsets) || subsets.length === 0) throw new UsageError(`sticky.subsets: expected ${example}`);
  for (const subset of subsets)
    if (typeof subset !== 'string' || !isKnown(subset))
      throw new UsageError(
        `sticky.subsets: ${JSON.stringify(subset)} is not a destination this gateway knows; known: ${knownList()}`,
      );
  return { cookie, maxAgeSeconds, subsets: [...new Set(subsets as string[])] };
}

/** A weights change's cohort: header matches (each exactly one of exact, prefix, an RE2 regex) and a known destination. */
function parseCohort(
  cohort: unknown,
  isKnown: (name: string) => boolean,
  knownList: () => string,
): WeightsChange['cohort'] {
  if (cohort === undefined || cohort === null) return undefined;
  const example = '{"headers": {"x-cohort": {"exact": "beta"}}, "subset": "v2"}';
  if (typeof cohort !== 'object' || Array.isArray(cohort)) throw new UsageError(`cohort: expected ${example}`);
  const { headers, subset } = cohort as { headers?: unknown; subset?: unknown };
  if (typeof subset !== 'string' || !isKnown(subset))
    throw new UsageError(
      `cohort.subset: ${JSON.stringify(subset)} is not a destination this gateway knows; known: ${knownList()}`,
    );
  const parsed = z.record(z.string(), stringMatch).safeParse(headers, { reportInput: true });
  if (!parsed.success || Object.keys(parsed.data).length === 0)
    throw new UsageError(
      parsed.success
        ? `cohort.headers: empty; expected ${example}`
        : formatIssues(parsed.error.issues, headers, 'cohort.headers').join('; '),
    );
  for (const [name, condition] of Object.entries(parsed.data)) compileMatch(condition, `cohort.headers.${name}`);
  return { headers: parsed.data, subset };
}

/** A copy of the table with the named route's weights replaced (and mirroring set), touching nothing else. */
export function withWeights(table: RouteTable, routeName: string, change: WeightsChange): RouteTable {
  const index = table.http.findIndex((r) => r.name === routeName);
  if (index < 0)
    throw new UsageError(
      `route "${routeName}" not found; routes: ${table.http.map((r) => r.name ?? '(unnamed)').join(', ')}`,
    );
  const total = Object.values(change.weights).reduce((a, b) => a + b, 0);
  if (total !== 100) throw new UsageError(`weights add up to ${total}; they must add up to 100`);
  const route = table.http[index]!;
  const host = route.route[0]!.destination.host;
  // Destinations the change does not name stay, at 0, as the Istio router keeps them.
  const unnamed = route.route.filter((d) => !Object.hasOwn(change.weights, d.destination.subset ?? d.destination.host));
  const sticky = change.sticky;
  const cookieOf = (subset: string) =>
    sticky?.subsets.includes(subset)
      ? { headers: { response: { add: { 'set-cookie': stickyCookieValue(sticky, subset) } } } }
      : {};
  const next: HttpRoute = {
    ...route,
    route: [
      ...Object.entries(change.weights).map(([subset, weight]) => ({
        destination: { host, subset },
        weight,
        ...cookieOf(subset),
      })),
      ...unnamed.map(({ headers: _headers, ...d }) => ({ ...d, weight: 0 })),
    ],
  };
  if (change.mirror && change.mirror.percent > 0) {
    next.mirror = { host, subset: change.mirror.subset };
    next.mirrorPercentage = { value: change.mirror.percent };
  } else {
    delete next.mirror;
    delete next.mirrorPercentage;
  }
  // The cohort and sticky routes sit just before the owned one while asked for, and are gone otherwise.
  const cohortName = cohortRouteName(routeName);
  const stickyPrefix = stickyRouteName(routeName, '');
  const http = table.http
    .map((r, i) => (i === index ? next : r))
    .filter((r) => r.name !== cohortName && !r.name?.startsWith(stickyPrefix));
  for (const subset of sticky?.subsets ?? []) {
    const match = { headers: { cookie: { regex: stickyCookieRegex(sticky!.cookie, subset) } } };
    compileMatch(match.headers.cookie, `sticky.subsets.${subset}`);
    http.splice(http.indexOf(next), 0, {
      name: stickyRouteName(routeName, subset),
      match: [match],
      route: [{ destination: { host, subset }, weight: 100 }],
    });
  }
  if (change.cohort)
    http.splice(http.indexOf(next), 0, {
      name: cohortName,
      match: [{ headers: change.cohort.headers }],
      route: [{ destination: { host, subset: change.cohort.subset }, weight: 100 }],
    });
  return { ...table, http };
}
