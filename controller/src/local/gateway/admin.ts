// The gateway's admin API, behind its bearer token: read the route table,
// replace it, and read or set one route's weights (with weir's step record).
// Every input is validated completely before anything changes.
import { parse as parseYaml } from 'yaml';
import { RequestError, UsageError } from '../../../../shared/errors.js';
import {
  metricsReply,
  readBody,
  requireBearer,
  type Exchange,
  type Reply,
  type Route,
} from '../../../../shared/http.js';
import { parseAppliedStep } from '../../engine/applied-step.js';
import { parseRouteTable, parseWeightsChange } from './routes.js';
import type { Gateway } from './server.js';

const TABLE_MAX_BYTES = 1024 * 1024;
const WEIGHTS_MAX_BYTES = 64 * 1024;

/** Bad input becomes a 400 naming it; RangeError is how the route parsers say so. */
async function validated<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UsageError) throw new RequestError(400, err.message);
    throw err;
  }
}

/** The admin routes of `gateway`; /healthz and /metrics need no token. */
export function adminRoutes(gateway: Gateway, token: string): Route[] {
  const authorized = (handler: (x: Exchange) => Promise<Reply> | Reply) => (x: Exchange) => {
    requireBearer(x.req, token, 'the admin API');
    return handler(x);
  };
  const named = (x: Exchange) => {
    const name = x.params.name!;
    if (!gateway.routes.http.some((r) => r.name === name)) {
      throw new RequestError(
        404,
        `route "${name}" not found; routes: ${gateway.routes.http.map((r) => r.name ?? '(unnamed)').join(', ')}`,
      );
    }
    return name;
  };
  return [
    { method: 'GET', path: '/healthz', name: 'healthz', handler: () => ({ status: 200, body: { ok: true } }) },
    { method: 'GET', path: '/metrics', name: 'metrics', handler: () => metricsReply(gateway.telemetry.registry) },
    {
      method: 'GET',
      path: '/routes',
      name: 'routes',
      handler: authorized(() => ({ status: 200, body: gateway.routes })),
    },
    {
      method: 'PUT',
      path: '/routes',
      name: 'routes',
      handler: authorized(async ({ req }) => {
        const text = (await readBody(req, TABLE_MAX_BYTES)).toString('utf8');
        const table = await validated(() => {
          let document: unknown;
          try {
            document = parseYaml(text, { maxAliasCount: 50 });
          } catch (err) {
            throw new UsageError(`body: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
          }
          return parseRouteTable(document);
        });
        gateway.replaceTable(table);
        return { status: 200, body: gateway.routes };
      }),
    },
    {
      method: 'GET',
      path: '/routes/:name/weights',
      name: 'weights',
      handler: authorized((x) => ({ status: 200, body: gateway.describeRoute(named(x)) })),
    },
    {
      method: 'PUT',
      path: '/routes/:name/weights',
      name: 'weights',
      handler: authorized(async (x) => {
        const name = named(x);
        const text = (await readBody(x.req, WEIGHTS_MAX_BYTES)).toString('utf8');
        const { change, step } = await validated(() => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch (err) {
            throw new UsageError(`body: not JSON (${(err as Error).message})`);
          }
          const parsedChange = parseWeightsChange(
            body,
            gateway.routes.http.find((r) => r.name === name),
            new Set(gateway.versions),
          );
          const stepField = (body as { step?: unknown }).step;
          const parsedStep = stepField === undefined ? undefined : parseAppliedStep(stepField);
          if (stepField !== undefined && !parsedStep)
            throw new UsageError('step: not a weir step record {attempt, stepId, action, at, summary, consumed}');
          return { change: parsedChange, step: parsedStep };
        });
        gateway.changeWeights(name, change, step);
        return { status: 200, body: gateway.describeRoute(name) };
      }),
    },
  ];
}
