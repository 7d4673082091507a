import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, without type declarations
import { OUTPUT, generate, wireSchema } from '../../scripts/gen-protocol.mjs';
import { CloseCode } from './generated';

describe('src/protocol/generated.ts', () => {
  it('matches what the generator makes from the hub’s message models (run `npm run gen`)', async () => {
    const fresh = (await generate()) as string;
    expect(readFileSync(OUTPUT as string, 'utf8')).toBe(fresh);
  }, 30_000);

  it('names every close code of the hub’s CloseCode enum, with its value', () => {
    const hub = (wireSchema() as { 'x-close-codes': Record<string, number> })['x-close-codes'];
    expect(Object.keys(hub).length).toBeGreaterThan(0);
    expect({ ...CloseCode }).toEqual(hub);
  }, 30_000);
});
