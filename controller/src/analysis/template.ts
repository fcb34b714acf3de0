// PromQL templates: {{version}}, {{stable}}, {{canary}}, {{namespace}}, {{window}}, {{model}}.
import { UsageError } from '../../../shared/errors.js';

export const TEMPLATE_VARIABLES = ['version', 'stable', 'canary', 'namespace', 'window', 'model'] as const;
export type TemplateVariables = Record<(typeof TEMPLATE_VARIABLES)[number], string>;

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+)\s*\}\}/g;

/** Fills every placeholder; an unknown one is an error naming it (and `field`, the spec path). */
export function renderQuery(template: string, variables: TemplateVariables, field = 'query'): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      throw new UsageError(
        `${field}: unknown placeholder {{${name}}}; expected one of ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
      );
    }
    return variables[name as keyof TemplateVariables];
  });
}

/** A PromQL range for the stage window: whole seconds, at least `minimumSeconds`. */
export function windowText(stageMs: number, minimumSeconds = 1): string {
  return `${Math.max(minimumSeconds, Math.ceil(stageMs / 1000))}s`;
}
