// The edges the controller talks to, each behind a small interface the engine
// never sees (as Flagger's router is three methods).
import type { ModelRollout, RolloutStatus } from '../api/schema.js';
import type { PlannedQuery, QueryResult } from '../analysis/observations.js';
import type { Command } from '../engine/types.js';

/** A rollout as stored, with commands not yet consumed and a version for optimistic writes. */
export interface StoredRollout {
  /** How the store names it: the name in local mode, namespace/name in Kubernetes. */
  key: string;
  rollout: ModelRollout;
  commands: Command[];
  /** Changes on every write; writeStatus refuses a stale one. */
  revision: string;
}

export interface RolloutStore {
  list(): Promise<StoredRollout[]>;
  get(key: string): Promise<StoredRollout>;
  /** Writes status if the stored revision is still `revision`; returns the new revision. */
  writeStatus(key: string, status: RolloutStatus, revision: string): Promise<string>;
  /** Records a command with who gave it and when. */
  addCommand(key: string, command: Omit<Command, 'id'>): Promise<Command>;
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

export interface TrafficRouter {
  /** Sets the route's weights (stable gets the rest) and mirroring. */
  setRoutes(rollout: ModelRollout, canaryWeight: number, mirrorPercent: number): Promise<void>;
  getRoutes(rollout: ModelRollout): Promise<{ stable: number; canary: number }>;
}

export interface MetricsProvider {
  /** Runs every query; a failed or empty one maps to undefined (nodata). */
  query(plan: PlannedQuery[]): Promise<Map<string, QueryResult>>;
  /** The queries of the last call that failed (not merely empty), when the provider can tell. */
  lastFailures?: { key: string; error: string }[];
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
}

export interface Notifier {
  notify(event: RolloutEvent): Promise<void>;
}

/** Kubernetes Events (or their local stand-in) about a rollout. */
export interface EventRecorder {
  record(rollout: ModelRollout, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}
