// The edges the controller talks to, each behind a small interface the engine
// never sees (as Flagger's router is three methods).
import type { ModelRollout, RolloutStatus } from '../api/schema.js';
import type { PlannedQuery, QueryResult } from '../analysis/observations.js';
import type { AppliedStep, Command } from '../engine/types.js';
import type { RouteTarget } from '../engine/route.js';

/** A rollout as stored, with commands not yet consumed and a version for optimistic writes. */
export interface StoredRollout {
  /** How the store names it: the name in local mode, namespace/name in Kubernetes. */
  key: string;
  rollout: ModelRollout;
  commands: Command[];
  /** Changes on every write; writeStatus refuses a stale one. */
  revision: string;
}

/**
 * A rollout the store holds but cannot use: a file that does not parse, a spec
 * that does not validate, or a malformed status. It is skipped and reported,
 * never rewritten, and never blocks the others.
 */
export interface InvalidRollout {
  key: string;
  /** What is wrong, naming the field and value. */
  reason: string;
  /** Enough of the object to attach an Event to, when the store has one. */
  metadata?: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Everything a store holds: the rollouts it can use, and the ones it cannot (with why). */
export interface RolloutListing {
  rollouts: StoredRollout[];
  invalid: InvalidRollout[];
}

/** Where ModelRollouts live: a folder of YAML files locally, the Kubernetes API in a cluster. */
export interface RolloutStore {
  /** Every rollout; an unusable one is listed in `invalid` and the rest are returned. Throws only when nothing can be listed. */
  list(): Promise<RolloutListing>;
  /** One rollout; throws InvalidRolloutError when it cannot be used. */
  get(key: string): Promise<StoredRollout>;
  /** Writes status if the stored revision is still `revision` (ConflictError otherwise); returns the new revision. */
  writeStatus(key: string, status: RolloutStatus, revision: string): Promise<string>;
  /**
   * Records a command with who gave it and when. A command the rollout's phase
   * refuses (see engine/commands.ts) is recorded in status.refusedCommands
   * instead, in the same atomic write, and CommandRefusedError is thrown.
   */
  addCommand(key: string, command: Omit<Command, 'id'>): Promise<Command>;
}

/** The stored rollout changed since it was read (a stale revision or resourceVersion): read it again. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** The rollout cannot be used: see InvalidRollout. */
export class InvalidRolloutError extends Error {
  override name = 'InvalidRolloutError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`rollout ${key} is invalid: ${reason}`);
  }
}

/** The rollout's phase refuses the command; the refusal was recorded in its status. */
export class CommandRefusedError extends Error {
  override name = 'CommandRefusedError';
  constructor(
    readonly key: string,
    readonly phase: string,
    readonly reason: string,
  ) {
    super(`refused: ${reason}`);
  }
}

/** A VirtualService, route, destination or subset the rollout names does not exist. */
export class RouteConfigError extends Error {
  override name = 'RouteConfigError';
  constructor(
    /** A CamelCase reason for the condition and the Event, e.g. VirtualServiceNotFound. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a route carries for one rollout: the weights, the mirror share, and the record of the step they belong to. */
export interface RouteState {
  /** The weight of each version the rollout routes to, in routedVersions order (stable, baseline, canary). */
  weights: number[];
  /** The share mirrored to the canary. */
  mirrorPercent: number;
  /** The step these weights were applied for, when weir wrote them (see AppliedStep). */
  step?: AppliedStep;
}

/** What carries the weights: the local gateway, or an Istio VirtualService. */
export interface TrafficRouter {
  /**
   * Sets the route's weights, one per destination (any other destination of
   * the route gets 0), and mirroring, and keeps `step` with them in the same
   * write, so the route itself records which decision it carries. Throws
   * RouteConfigError when the route cannot exist.
   */
  setRoutes(rollout: ModelRollout, target: RouteTarget, step: AppliedStep): Promise<void>;
  /** Reads the route: weights, mirror share and the step record weir last wrote. */
  getRoutes(rollout: ModelRollout): Promise<RouteState>;
}

/** One query of a round that did not answer (not merely empty): which, and why. */
export interface QueryFailure {
  key: string;
  error: string;
}

/** A round of queries: every result (undefined is nodata), and the queries that failed outright. */
export interface QueryRound {
  results: Map<string, QueryResult>;
  failures: QueryFailure[];
}

/** Where the metrics come from: Prometheus. */
export interface MetricsProvider {
  /** Runs every planned query. A failed or empty one maps to undefined (nodata); the failed ones are also listed. Never rejects. */
  query(plan: PlannedQuery[]): Promise<QueryRound>;
}

/** Where a rollout stands after a reconcile (sent every reconcile, holds included). */
export interface RolloutEvent {
  rollout: ModelRollout;
  action: string;
  summary: string;
  status: RolloutStatus;
  /** True when this reconcile took a new step (not a hold or a repeat). */
  stepChanged: boolean;
  /** True when every metric query failed (Prometheus unreachable). */
  metricsUnavailable: boolean;
  /** Set while the route cannot be made to match status (the last write failed): why. */
  routeWriteFailure?: string;
  /** Set while status cannot be written: why. */
  statusWriteFailure?: string;
}

/** Who hears about rollouts: Alertmanager. */
export interface Notifier {
  /**
   * Told where a rollout stands after every reconcile (holds included): fires
   * alerts while their condition holds and resolves them when it ends. Never
   * blocks a decision: delivery is buffered and retried.
   */
  notify(event: RolloutEvent): Promise<void>;
}

/** Kubernetes Events (or their local stand-in) about a rollout. */
export interface EventRecorder {
  /** Best effort: a failure is logged, never thrown. */
  record(
    rollout: Pick<ModelRollout, 'apiVersion' | 'kind' | 'metadata'>,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void>;
}
