// Validating ModelRollout documents: every error names the field path, the bad
// value and what is allowed.
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { API_GROUP, API_VERSION, KIND, specSchema, type ModelRollout } from './schema.js';

/** The rollout, when it validated; otherwise one line per problem. */
export interface ValidationResult {
  rollout?: ModelRollout;
  errors: string[];
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function pathText(path: PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
    '',
  );
}

/** One line per issue: `spec.strategy.steps[1]: 5 must rise: ...`. */
export function formatIssues(issues: z.core.$ZodIssue[], root: unknown, prefix: string): string[] {
  return issues.map((issue) => {
    const path = pathText([...(prefix ? [prefix] : []), ...issue.path]);
    // The value the user wrote at that path; for a defaulted field, the value zod saw.
    const written = valueAt(root, issue.path);
    const value = written !== undefined ? written : 'input' in issue ? issue.input : undefined;
    const shown = value === undefined ? 'missing' : JSON.stringify(value);
    return `${path}: ${shown === 'missing' ? 'missing; ' : `${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} `}${issue.message}`;
  });
}

/** Validates one parsed document as a ModelRollout and applies the defaults. */
export function validateModelRollout(doc: unknown): ValidationResult {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return { errors: ['document: expected a ModelRollout object'] };
  const record = doc as Record<string, unknown>;
  const errors: string[] = [];
  const expectedApi = `${API_GROUP}/${API_VERSION}`;
  if (record.apiVersion !== expectedApi)
    errors.push(`apiVersion: ${JSON.stringify(record.apiVersion) ?? 'missing'} is not ${expectedApi}`);
  if (record.kind !== KIND) errors.push(`kind: ${JSON.stringify(record.kind) ?? 'missing'} is not ${KIND}`);
  const metadata = record.metadata as Record<string, unknown> | undefined;
  if (!metadata || typeof metadata.name !== 'string' || metadata.name === '')
    errors.push('metadata.name: missing; expected the rollout name');
  const parsed = specSchema.safeParse(record.spec, { reportInput: true });
  if (record.spec === undefined) errors.push('spec: missing; expected the rollout spec');
  else if (!parsed.success) errors.push(...formatIssues(parsed.error.issues, record.spec, 'spec'));
  if (errors.length > 0 || !parsed.success) return { errors };
  return { rollout: { ...(record as unknown as ModelRollout), spec: parsed.data }, errors };
}

/** Validates every document in a YAML (or JSON) text. Errors are prefixed with the document number when there are several. With skipOtherGroups, documents of other API groups (a Deployment beside the rollout) are passed over. */
export function validateText(text: string, { skipOtherGroups = false } = {}): ValidationResult[] {
  const documents = parseAllDocuments(text);
  if (documents.length === 0) return [{ errors: ['file: no YAML documents'] }];
  const results: ValidationResult[] = [];
  documents.forEach((document, index) => {
    const prefix = documents.length > 1 ? `document ${index + 1}: ` : '';
    if (document.errors.length > 0) {
      results.push({ errors: document.errors.map((e) => `${prefix}YAML: ${e.message.split('\n')[0]}`) });
      return;
    }
    const value = document.toJS() as unknown;
    // A file applied with kubectl may hold other objects too (a Deployment, a DestinationRule): not weir's to judge.
    const apiVersion = (value as { apiVersion?: unknown } | null)?.apiVersion;
    if (skipOtherGroups && typeof apiVersion === 'string' && !apiVersion.startsWith(`${API_GROUP}/`)) return;
    const result = validateModelRollout(value);
    results.push({ ...result, errors: result.errors.map((e) => `${prefix}${e}`) });
  });
  if (results.length === 0)
    return [{ errors: [`file: no ModelRollout document (${documents.length} of other API groups were skipped)`] }];
  return results;
}
