// RolloutStore on a folder (local mode): each ModelRollout is one YAML file,
// <dir>/<name>.yaml, holding spec, status and the commands people gave. Every
// write takes the rollout's lock and replaces the file atomically (temp file,
// fsync, rename), so a crash at any instant leaves the old or the new file.
import { randomUUID } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { statusSchema, type RolloutStatus } from '../../api/schema.js';
import { validateModelRollout } from '../../api/validate.js';
import type { Command } from '../../engine/types.js';
import type { RolloutStore, StoredRollout } from '../types.js';
import { withLock } from './lock.js';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface FileDocument {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  spec: unknown;
  status?: unknown;
  commands?: Command[];
  revision?: number;
}

export class FileRolloutStore implements RolloutStore {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    if (!NAME.test(name)) throw new RangeError(`rollout name "${name}" is not a DNS label`);
    return path.join(this.dir, `${name}.yaml`);
  }

  private async read(name: string): Promise<FileDocument> {
    const file = this.file(name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RangeError(`rollout "${name}" not found in ${this.dir}`);
      throw err;
    }
    const doc = parse(text) as FileDocument;
    if (doc === null || typeof doc !== 'object') throw new RangeError(`${file}: not a ModelRollout document`);
    return doc;
  }

  private toStored(doc: FileDocument, file: string): StoredRollout {
    const { rollout, errors } = validateModelRollout(doc);
    if (!rollout) throw new RangeError(`${file}: ${errors.join('; ')}`);
    const status = statusSchema.safeParse(doc.status ?? {});
    rollout.status = status.success ? status.data : statusSchema.parse({});
    const consumed = new Set(rollout.status.consumedCommands);
    return { key: path.basename(file, '.yaml'), rollout, commands: (doc.commands ?? []).filter((c) => !consumed.has(c.id)), revision: String(doc.revision ?? 0) };
  }

  /** Writes atomically: a crash leaves either the old file or the new one, never a mix. */
  private async replace(name: string, doc: FileDocument): Promise<void> {
    const file = this.file(name);
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(stringify(doc, { lineWidth: 0 }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async list(): Promise<StoredRollout[]> {
    const names = (await readdir(this.dir)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).filter((n) => NAME.test(n));
    const stored: StoredRollout[] = [];
    for (const name of names.sort()) stored.push(await this.get(name));
    return stored;
  }

  async get(name: string): Promise<StoredRollout> {
    return this.toStored(await this.read(name), this.file(name));
  }

  async writeStatus(name: string, status: RolloutStatus, revision: string): Promise<string> {
    return withLock(`${this.file(name)}.lock`, async () => {
      const doc = await this.read(name);
      if (String(doc.revision ?? 0) !== revision) throw new ConflictError(`rollout "${name}" changed since revision ${revision} (now ${doc.revision ?? 0}); read it again`);
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
      const recorded: Command = { id: randomUUID(), ...command };
      doc.commands = [...(doc.commands ?? []), recorded];
      doc.revision = (doc.revision ?? 0) + 1;
      await this.replace(name, doc);
      return recorded;
    });
  }
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}
