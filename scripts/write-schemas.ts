// Writes the published JSON Schemas from the code that the engine and the codec use, so the
// files in schemas/ never drift from what nicguard checks (test/registry.test.ts compares).
// Run: npm run schemas
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ADMISSION_REVIEW_SCHEMA } from '../src/admission/review-schema.js';
import { configSchema } from '../src/engine/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export const PUBLISHED_SCHEMAS: Record<string, unknown> = {
  'schemas/config.schema.json': configSchema(),
  'schemas/admission-review.schema.json': ADMISSION_REVIEW_SCHEMA,
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [path, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
    writeFileSync(root + path, JSON.stringify(schema, null, 2) + '\n');
    process.stdout.write(`wrote ${path}\n`);
  }
}
