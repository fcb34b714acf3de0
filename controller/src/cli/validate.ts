// `weir validate FILE`: silent and exit 0 when every ModelRollout document is
// valid; otherwise one line per problem on stderr and exit 1. Documents of other
// API groups (a Deployment or DestinationRule in the same file) are passed over.
import { readFile } from 'node:fs/promises';
import { validateText } from '../api/validate.js';

/** `weir validate FILE`: silent and 0 when every document is a valid ModelRollout; one line per problem and 1 otherwise. */
export async function runValidate(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    process.stderr.write(
      `weir validate: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
    );
    return 2;
  }
  const errors = validateText(text, { skipOtherGroups: true }).flatMap((r) => r.errors);
  for (const error of errors) process.stderr.write(`${file}: ${error}\n`);
  return errors.length === 0 ? 0 : 1;
}
