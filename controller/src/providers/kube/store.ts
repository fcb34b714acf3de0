// RolloutStore on the Kubernetes API: ModelRollouts in every namespace or a
// chosen set, kept current by list+watch; status written through the status
// subresource with resourceVersion checks; commands people give are kept in
// status.commands until the controller consumes them.
import { randomUUID } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../predictor/src/log.js';
import { API_GROUP, API_VERSION, statusSchema, type RolloutStatus } from '../../api/schema.js';
import { validateModelRollout } from '../../api/validate.js';
import type { Command } from '../../engine/types.js';
import type { RolloutStore, StoredRollout } from '../types.js';
import { isConflict, kubeCall } from './client.js';
import { Informer, type Listed } from './informer.js';

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
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  if (slash <= 0) throw new RangeError(`rollout key "${key}" is not namespace/name`);
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

const CONFLICT_RETRIES = 8;

export class KubeRolloutStore implements RolloutStore {
  private readonly api: CustomObjectsApi;
  private readonly informers: Informer<RawRollout>[];
  /** Invalid specs, reported once per resourceVersion. */
  private readonly reported = new Map<string, string>();

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: KubeStoreOptions,
  ) {
    this.api = kubeconfig.makeApiClient(CustomObjectsApi);
    this.informers = this.scopes().map(
      (namespace) =>
        new Informer<RawRollout>({
          kubeconfig,
          path: namespace ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${PLURAL}` : `/apis/${API_GROUP}/${API_VERSION}/${PLURAL}`,
          list: () => this.listScope(namespace),
          log: options.log,
          ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}),
          ...(options.onChange ? { onChange: options.onChange } : {}),
        }),
    );
  }

  /** Lists and starts watching; resolves when every watched scope has been listed once. */
  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  stop(): void {
    for (const informer of this.informers) informer.stop();
  }

  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  private ref(key: string) {
    return { group: API_GROUP, version: API_VERSION, plural: PLURAL, ...splitKey(key) };
  }

  private toStored(raw: RawRollout): StoredRollout | { key: string; errors: string[] } {
    const key = `${raw.metadata.namespace}/${raw.metadata.name}`;
    const { rollout, errors } = validateModelRollout({ apiVersion: raw.apiVersion, kind: raw.kind, metadata: raw.metadata, spec: raw.spec });
    if (!rollout) return { key, errors };
    const parsed = statusSchema.safeParse(raw.status ?? {});
    rollout.status = parsed.success ? parsed.data : statusSchema.parse({});
    const consumed = new Set(rollout.status.consumedCommands);
    return { key, rollout, commands: rollout.status.commands.filter((c) => !consumed.has(c.id)), revision: raw.metadata.resourceVersion ?? '' };
  }

  /** Every valid rollout in the watch cache. Invalid ones are logged once per change and skipped. */
  async list(): Promise<StoredRollout[]> {
    const stored: StoredRollout[] = [];
    for (const informer of this.informers) {
      for (const raw of informer.values()) {
        const result = this.toStored(raw);
        if ('errors' in result) {
          if (this.reported.get(result.key) !== raw.metadata.resourceVersion) {
            this.reported.set(result.key, raw.metadata.resourceVersion ?? '');
            this.options.log.warn('ModelRollout does not validate; skipping it until it is fixed', { rollout: result.key, errors: result.errors });
          }
        } else stored.push(result);
      }
    }
    return stored.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The watched namespaces; [undefined] means all of them. */
  private scopes(): (string | undefined)[] {
    return this.options.namespaces?.length ? this.options.namespaces : [undefined];
  }

  private async listScope(namespace: string | undefined): Promise<Listed<RawRollout>> {
    const ref = { group: API_GROUP, version: API_VERSION, plural: PLURAL };
    return (await kubeCall(`list modelrollouts${namespace ? ` in ${namespace}` : ' in all namespaces'}`, () =>
      namespace ? this.api.listNamespacedCustomObject({ ...ref, namespace }) : this.api.listClusterCustomObject(ref),
    )) as Listed<RawRollout>;
  }

  /** One list straight from the API server (for the CLI), without watching. */
  async listFromServer(): Promise<StoredRollout[]> {
    const stored: StoredRollout[] = [];
    for (const namespace of this.scopes()) {
      for (const raw of (await this.listScope(namespace)).items) {
        const result = this.toStored(raw);
        if (!('errors' in result)) stored.push(result);
      }
    }
    return stored.sort((a, b) => a.key.localeCompare(b.key));
  }

  private async getRaw(key: string): Promise<RawRollout> {
    return (await kubeCall(`get modelrollout ${key}`, () => this.api.getNamespacedCustomObject(this.ref(key)))) as RawRollout;
  }

  /** Reads the rollout from the API server (not the cache), so its revision is current. */
  async get(key: string): Promise<StoredRollout> {
    const result = this.toStored(await this.getRaw(key));
    if ('errors' in result) throw new RangeError(`ModelRollout ${key} does not validate: ${result.errors.join('; ')}`);
    return result;
  }

  /** PUT to the status subresource; the API server refuses it with 409 unless resourceVersion is still current. */
  private async putStatus(key: string, resourceVersion: string, status: RolloutStatus): Promise<string> {
    const { namespace, name } = splitKey(key);
    // The status subresource ignores everything but status, so spec need not travel.
    const body = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'ModelRollout', metadata: { name, namespace, resourceVersion }, status };
    const written = (await kubeCall(`update modelrollouts/status ${key}`, () =>
      this.api.replaceNamespacedCustomObjectStatus({ ...this.ref(key), body, ...(this.options.fieldManager ? { fieldManager: this.options.fieldManager } : {}) }),
    )) as RawRollout;
    return written.metadata.resourceVersion ?? '';
  }

  async writeStatus(key: string, status: RolloutStatus, revision: string): Promise<string> {
    const consumed = new Set(status.consumedCommands);
    // Commands the status consumed go; unconsumed ones stay. A command added after
    // `revision` makes the write fail with 409, so none is ever lost.
    return this.putStatus(key, revision, { ...status, commands: status.commands.filter((c) => !consumed.has(c.id)) });
  }

  async addCommand(key: string, command: Omit<Command, 'id'>): Promise<Command> {
    const recorded: Command = { id: randomUUID(), ...command };
    for (let attempt = 1; ; attempt++) {
      const raw = await this.getRaw(key);
      const parsed = statusSchema.safeParse(raw.status ?? {});
      const status = parsed.success ? parsed.data : statusSchema.parse({});
      try {
        await this.putStatus(key, raw.metadata.resourceVersion ?? '', { ...status, commands: [...status.commands, recorded] });
        return recorded;
      } catch (err) {
        if (!isConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
      }
    }
  }
}
