// A reference to one model version: its version label, and the DestinationRule
// subset or host that routes to it. Spec and status both use it.
import { z } from 'zod';

export const versionRef = z.object({
  version: z
    .string()
    .min(1, 'is empty; expected the model version, such as v2')
    .describe("model version, the value of the pods' `version` label"),
  subset: z.string().optional().describe('DestinationRule subset for this version (default: the version)'),
  host: z.string().optional().describe('a destination host instead of a subset'),
});
