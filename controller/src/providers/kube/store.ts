// RolloutStore on the Kubernetes API: ModelRollouts in every namespace or a
// chosen set, kept current by list+watch; status written through the status
// subresource with resourceVersion checks; commands people give are kept in
// status.commands until the controller consumes them.
import { randomUUID } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../shared/log.js';
import { API_GROUP, API_VERSION, type RolloutStatus } from '../../api/schema.js';
import { validateModelRollout } from '../../api/validate.js';
import { commandRefusal, REFUSALS_KEPT } from '../../engine/commands.js';
import type { Command } from '../../engine/types.js';
import { parseStoredStatus } from '../file/store.js';
import {
  CommandRefusedError,
  ConflictError,
  InvalidRolloutError,
  type InvalidRollout,
  type RolloutListing,
  type RolloutStore,
  type StoredRollout,
} from '../types.js';
import { retry } from '../../../../shared/retry.js';
import { isConflict, kubeCall } from './client.js';
import { ScopedInformers, scopesOf, type Listed } from './informer.js';
import { UsageError } from '../../../../shared/errors.js';

export const PLURAL = 'modelrollouts';

interface RawRollout {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string; [key: string]: unknown };
  spec?: unknown;
  status?: unknown;
}

export interface KubeStoreOptions {
  /** Namespaces to watch; empty or undefined: all of them. */
  namespaces?: string[];
  /** Names this client's writes in managedFields. */
  fieldManager?: string;
  log: Logger;
  resyncMs?: number;
  onChange?: () => void;
  /** Only the rollouts this selects are watched and listed (a controller's shard); the CLI's reads see all. */
  labelSelector?: string;
}

/** namespace/name → its parts; a UsageError for anything else. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  if (slash <= 0) throw new UsageError(`rollout key "${key}" is not namespace/name`);
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

const CONFLICT_RETRIES = 8;

/** A RolloutStore on the Kubernetes API (see the module comment). */
export class KubeRolloutStore implements RolloutStore {
  private readonly api: CustomObjectsApi;
  private readonly cache: ScopedInformers<RawRollout>;

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: KubeStoreOptions,
  ) {
    this.api = kubeconfig.makeApiClient(CustomObjectsApi);
    this.cache = new ScopedInformers<RawRollout>({
      kubeconfig,
      group: API_GROUP,
      version: API_VERSION,
      plural: PLURAL,
      namespaces: options.namespaces,
      list: (namespace) => this.listScope(namespace, options.labelSelector),
      log: options.log,
      labelSelector: options.labelSelector,
      resyncMs: options.resyncMs,
      onChange: options.onChange,
    });
  }

  /** Lists and starts watching; resolves when every watched scope has been listed once. */
  async start(): Promise<void> {
    await this.cache.start();
  }

  stop(): void {
    this.cache.stop();
  }

  get synced(): boolean {
    return this.cache.synced;
  }

  private ref(key: string) {
    return { group: API_GROUP, version: API_VERSION, plural: PLURAL, ...splitKey(key) };
  }

  private toStored(raw: RawRollout): StoredRollout | InvalidRollout {
    const key = `${raw.metadata.namespace}/${raw.metadata.name}`;
    const metadata = {
      name: raw.metadata.name,
      namespace: raw.metadata.namespace,
      ...(raw.metadata.uid ? { uid: raw.metadata.uid } : {}),
      ...(raw.metadata.resourceVersion ? { resourceVersion: raw.metadata.resourceVersion } : {}),
    };
    const { rollout, errors } = validateModelRollout({
      apiVersion: raw.apiVersion,
      kind: raw.kind,
      metadata: raw.metadata,
      spec: raw.spec,
    });
    if (!rollout) return { key, reason: errors.join('; '), metadata };
    const status = parseStoredStatus(raw.status);
    if ('error' in status) return { key, reason: status.error, metadata };
    rollout.status = status.status;
    const consumed = new Set(rollout.status.consumedCommands);
    return {
      key,
      rollout,
      commands: rollout.status.commands.filter((c) => !consumed.has(c.id)),
      revision: raw.metadata.resourceVersion ?? '',
    };
  }

  /**
   * Every rollout in the watch cache; invalid ones (spec or status) are listed apart with their
   * reason. The loop lists twice a second, so each object is validated once per resourceVersion,
   * not once per list: at 1,000 rollouts, validating all of them every list was most of the
   * controller's CPU.
   */
  async list(): Promise<RolloutListing> {
    const seen = new Map<string, { revision: string; result: StoredRollout | InvalidRollout }>();
    const listing = this.sorted(this.cache.values(), (raw) => {
      const key = `${raw.metadata.namespace}/${raw.metadata.name}`;
      const revision = raw.metadata.resourceVersion;
      const known = this.validated.get(key);
      const result = revision && known?.revision === revision ? known.result : this.toStored(raw);
      if (revision) seen.set(key, { revision, result });
      return result;
    });
    this.validated = seen;
    return listing;
  }

  /** Each listed rollout's validation, by key, for the resourceVersion it was made from. */
  private validated = new Map<string, { revision: string; result: StoredRollout | InvalidRollout }>();

  private sorted(
    raws: RawRollout[],
    toStored: (raw: RawRollout) => StoredRollout | InvalidRollout = (raw) => this.toStored(raw),
  ): RolloutListing {
    const rollouts: StoredRollout[] = [];
    const invalid: InvalidRollout[] = [];
    for (const raw of raws) {
      const result = toStored(raw);
      if ('reason' in result) invalid.push(result);
      else rollouts.push(result);
    }
    rollouts.sort((a, b) => a.key.localeCompare(b.key));
    invalid.sort((a, b) => a.key.localeCompare(b.key));
    return { rollouts, invalid };
  }

  private async listScope(namespace: string | undefined, labelSelector?: string): Promise<Listed<RawRollout>> {
    const ref = { group: API_GROUP, version: API_VERSION, plural: PLURAL, ...(labelSelector ? { labelSelector } : {}) };
    return (await kubeCall(`list modelrollouts${namespace ? ` in ${namespace}` : ' in all namespaces'}`, () =>
      namespace ? this.api.listNamespacedCustomObject({ ...ref, namespace }) : this.api.listClusterCustomObject(ref),
    )) as Listed<RawRollout>;
  }

  /** One list straight from the API server (for the CLI), without watching. */
  async listFromServer(): Promise<RolloutListing> {
    const raws: RawRollout[] = [];
    for (const namespace of scopesOf(this.options.namespaces)) raws.push(...(await this.listScope(namespace)).items);
    return this.sorted(raws);
  }

  private async getRaw(key: string): Promise<RawRollout> {
    return (await kubeCall(`get modelrollout ${key}`, () =>
      this.api.getNamespacedCustomObject(this.ref(key)),
    )) as RawRollout;
  }

  /** Reads the rollout from the API server (not the cache), so its revision is current. */
  async get(key: string): Promise<StoredRollout> {
    const result = this.toStored(await this.getRaw(key));
    if ('reason' in result) throw new InvalidRolloutError(key, result.reason);
    return result;
  }

  /** PUT to the status subresource; the API server refuses it with 409 unless resourceVersion is still current. */
  private async putStatus(key: string, resourceVersion: string, status: RolloutStatus): Promise<string> {
    const { namespace, name } = splitKey(key);
    // The status subresource ignores everything but status, so spec need not travel.
    const body = {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'ModelRollout',
      metadata: { name, namespace, resourceVersion },
      status,
    };
    const written = (await kubeCall(`update modelrollouts/status ${key}`, () =>
      this.api.replaceNamespacedCustomObjectStatus({
        ...this.ref(key),
        body,
        ...(this.options.fieldManager ? { fieldManager: this.options.fieldManager } : {}),
      }),
    )) as RawRollout;
    return written.metadata.resourceVersion ?? '';
  }

  async writeStatus(key: string, status: RolloutStatus, revision: string): Promise<string> {
    const consumed = new Set(status.consumedCommands);
    // Commands the status consumed go; unconsumed ones stay. A command added after
    // `revision` makes the write fail with 409, so none is ever lost.
    try {
      return await this.putStatus(key, revision, {
        ...status,
        commands: status.commands.filter((c) => !consumed.has(c.id)),
      });
    } catch (err) {
      if (isConflict(err))
        throw new ConflictError(`ModelRollout ${key} changed since resourceVersion ${revision}; read it again`);
      throw err;
    }
  }

  async addCommand(key: string, command: Omit<Command, 'id'>): Promise<Command> {
    const recorded: Command = { id: randomUUID(), ...command };
    // Read, then write with the resourceVersion read; another writer in between is a 409: read again.
    return retry(
      async () => {
        const raw = await this.getRaw(key);
        // A malformed status is never replaced by a fresh one to carry a command.
        const parsed = parseStoredStatus(raw.status);
        if ('error' in parsed) throw new InvalidRolloutError(key, parsed.error);
        const { status } = parsed;
        const refusal = commandRefusal(status.phase, command.type);
        const next = refusal
          ? {
              ...status,
              refusedCommands: [
                ...status.refusedCommands,
                { type: command.type, by: command.by, at: command.at, reason: refusal },
              ].slice(-REFUSALS_KEPT),
            }
          : { ...status, commands: [...status.commands, recorded] };
        await this.putStatus(key, raw.metadata.resourceVersion ?? '', next);
        if (refusal) throw new CommandRefusedError(key, status.phase, refusal);
        return recorded;
      },
      { attempts: CONFLICT_RETRIES, retryOn: isConflict },
    );
  }
}
