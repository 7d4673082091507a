import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { OUTPUT, generate } from '../../scripts/gen-protocol.mjs';

describe('src/protocol/generated.ts', () => {
  it('matches what the generator makes from the hub’s message models (run `npm run gen`)', async () => {
    const fresh = (await generate()) as string;
    expect(readFileSync(OUTPUT as string, 'utf8')).toBe(fresh);
  }, 30_000);
});
