// RolloutStore on a folder (local mode): each ModelRollout is one YAML file,
// <dir>/<name>.yaml, holding spec, status and the commands people gave. Every
// write takes the rollout's lock and replaces the file atomically (temp file,
// fsync, rename), so a crash at any instant leaves the old or the new file.
// A file that does not parse, or whose spec or status does not validate, is
// listed as invalid and never written: it cannot block the others, and what
// is in it is never lost or reset.
import { randomUUID } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { commandSchema, statusSchema, type RolloutStatus } from '../../api/schema.js';
import { formatIssues, validateModelRollout } from '../../api/validate.js';
import { commandRefusal, REFUSALS_KEPT } from '../../engine/commands.js';
import type { Command } from '../../engine/types.js';
import {
  CommandRefusedError,
  ConflictError,
  InvalidRolloutError,
  type InvalidRollout,
  type RolloutListing,
  type RolloutStore,
  type StoredRollout,
} from '../types.js';
import { withLock } from './lock.js';
import { UsageError } from '../../../../shared/errors.js';

export { ConflictError } from '../types.js';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const storedCommands = z.array(commandSchema).max(1000);

interface FileDocument {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  spec: unknown;
  status?: unknown;
  commands?: Command[];
  revision?: number;
}

/** The status a document holds: none yet gives the defaults; a malformed one is an error, never a reset. */
export function parseStoredStatus(raw: unknown): { status: RolloutStatus } | { error: string } {
  if (raw === undefined || raw === null) return { status: statusSchema.parse({}) };
  const parsed = statusSchema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { status: parsed.data };
  return { error: `malformed status, left as it is: ${formatIssues(parsed.error.issues, raw, 'status').join('; ')}` };
}

/** A RolloutStore on a folder of YAML files (see the module comment). */
export class FileRolloutStore implements RolloutStore {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    if (!NAME.test(name)) throw new UsageError(`rollout name "${name}" is not a DNS label`);
    return path.join(this.dir, `${name}.yaml`);
  }

  /** The document in a rollout's file; InvalidRolloutError when it is not YAML holding an object. */
  private async read(name: string): Promise<FileDocument> {
    const file = this.file(name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UsageError(`rollout "${name}" not found in ${this.dir}`);
      throw new InvalidRolloutError(name, `${file}: cannot be read (${code ?? (err as Error).message})`);
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw new InvalidRolloutError(name, `${file}: not YAML (${(err as Error).message.split('\n')[0]})`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw new InvalidRolloutError(name, `${file}: not a ModelRollout document`);
    return doc as FileDocument;
  }

  private toStored(doc: FileDocument, name: string): StoredRollout {
    const file = this.file(name);
    const { rollout, errors } = validateModelRollout(doc);
    if (!rollout) throw new InvalidRolloutError(name, `${file}: ${errors.join('; ')}`);
    const status = parseStoredStatus(doc.status);
    if ('error' in status) throw new InvalidRolloutError(name, `${file}: ${status.error}`);
    rollout.status = status.status;
    // Commands and the revision are checked too: one malformed entry must not reach the engine or break every write.
    const commands = storedCommands.safeParse(doc.commands ?? [], { reportInput: true });
    if (!commands.success)
      throw new InvalidRolloutError(
        name,
        `${file}: ${formatIssues(commands.error.issues, doc.commands, 'commands').join('; ')}`,
      );
    if (doc.revision !== undefined && !(Number.isSafeInteger(doc.revision) && doc.revision >= 0))
      throw new InvalidRolloutError(
        name,
        `${file}: revision: ${JSON.stringify(doc.revision)} is not a whole number >= 0`,
      );
    const consumed = new Set(rollout.status.consumedCommands);
    return {
      key: name,
      rollout,
      commands: commands.data.filter((c) => !consumed.has(c.id)),
      revision: String(doc.revision ?? 0),
    };
  }

  /** Writes atomically: a crash leaves either the old file or the new one, never a mix. */
  private async replace(name: string, doc: FileDocument): Promise<void> {
    const file = this.file(name);
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(stringify(doc, { lineWidth: 0 }));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /** Every rollout file; one that cannot be used is listed as invalid with its reason, the rest still come back. */
  async list(): Promise<RolloutListing> {
    const names = (await readdir(this.dir)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));
    const rollouts: StoredRollout[] = [];
    const invalid: InvalidRollout[] = [];
    for (const name of names.sort()) {
      if (!NAME.test(name)) {
        invalid.push({
          key: name,
          reason: `${path.join(this.dir, `${name}.yaml`)}: "${name}" is not a DNS label, so it cannot name a rollout; rename the file`,
        });
        continue;
      }
      try {
        rollouts.push(await this.get(name));
      } catch (err) {
        if (err instanceof InvalidRolloutError) invalid.push({ key: name, reason: err.reason, metadata: { name } });
        else if (err instanceof UsageError && /not found/.test(err.message))
          continue; // deleted while listing
        else throw err;
      }
    }
    return { rollouts, invalid };
  }

  async get(name: string): Promise<StoredRollout> {
    return this.toStored(await this.read(name), name);
  }

  async writeStatus(name: string, status: RolloutStatus, revision: string): Promise<string> {
    return withLock(`${this.file(name)}.lock`, async () => {
      const doc = await this.read(name);
      this.toStored(doc, name); // never write over a file that does not validate
      if (String(doc.revision ?? 0) !== revision)
        throw new ConflictError(
          `rollout "${name}" changed since revision ${revision} (now ${doc.revision ?? 0}); read it again`,
        );
      doc.status = status;
      // Commands the status has consumed can go; unconsumed ones stay.
      doc.commands = (doc.commands ?? []).filter((c) => !status.consumedCommands.includes(c.id));
      doc.revision = (doc.revision ?? 0) + 1;
      await this.replace(name, doc);
      return String(doc.revision);
    });
  }

  async addCommand(name: string, command: Omit<Command, 'id'>): Promise<Command> {
    return withLock(`${this.file(name)}.lock`, async () => {
      const doc = await this.read(name);
      const { rollout } = this.toStored(doc, name);
      const status = rollout.status!;
      const refusal = commandRefusal(status.phase, command.type);
      if (refusal) {
        doc.status = {
          ...status,
          refusedCommands: [
            ...status.refusedCommands,
            { type: command.type, by: command.by, at: command.at, reason: refusal },
          ].slice(-REFUSALS_KEPT),
        };
        doc.revision = (doc.revision ?? 0) + 1;
        await this.replace(name, doc);
        throw new CommandRefusedError(name, status.phase, refusal);
      }
      const recorded: Command = { id: randomUUID(), ...command };
      doc.commands = [...(doc.commands ?? []), recorded];
      doc.revision = (doc.revision ?? 0) + 1;
      await this.replace(name, doc);
      return recorded;
    });
  }
}
