// What a model predicts, from its metadata.json: a class out of a declared
// list (classification), or a number (regression). The task decides how ground
// truth is read and scored: a confusion matrix bounded by the declared
// classes, or absolute and squared error.

/** Classification (a class per row, from `classes`) or regression (a value per row). */
export type ModelTask =
  | {
      type: 'classification';
      /** The declared classes; labels outside them are refused. At most MAX_CLASSES. */
      classes: number[];
      /** The output tensor holding the predicted class. */
      output: string;
      /** The class whose probability the `probability` output gives (the positive class). */
      positive: number;
    }
  | { type: 'regression'; output: string };

/** More classes than this would make the confusion matrix an unbounded label set. */
export const MAX_CLASSES = 64;

/**
 * The task declared in a model's metadata. Without a `task`, a model is a
 * classifier over `classes` (default [0, 1], as every model before tasks were
 * declared). Throws naming the bad field.
 */
export function taskOf(metadata: Record<string, unknown>, where: string): ModelTask {
  const task = metadata.task ?? 'classification';
  if (task === 'regression') {
    const output = metadata.output ?? 'value';
    if (typeof output !== 'string' || output === '')
      throw new Error(`${where}: output: expected the name of the output that holds the predicted value`);
    return { type: 'regression', output };
  }
  if (task !== 'classification')
    throw new Error(`${where}: task: ${JSON.stringify(task)} is not a task; expected "classification" or "regression"`);
  const classes = metadata.classes ?? [0, 1];
  if (
    !Array.isArray(classes) ||
    classes.length < 2 ||
    classes.length > MAX_CLASSES ||
    !classes.every((c) => Number.isSafeInteger(c)) ||
    new Set(classes).size !== classes.length
  )
    throw new Error(
      `${where}: classes: expected 2 to ${MAX_CLASSES} distinct whole numbers (the labels the model predicts), got ${JSON.stringify(classes).slice(0, 80)}`,
    );
  const positive = metadata.positiveClass ?? (classes as number[]).at(-1);
  if (!(classes as unknown[]).includes(positive))
    throw new Error(`${where}: positiveClass: ${JSON.stringify(positive)} is not one of the classes`);
  return { type: 'classification', classes: classes as number[], output: 'label', positive: positive as number };
}
