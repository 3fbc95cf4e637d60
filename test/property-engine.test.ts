// Properties of the policy engine over hostile input: mutated VM, VMI, NAD and Subnet
// requests (test/property-support.ts) never make evaluate() throw, every answer has the
// shape callers rely on, and the same request always gets the same answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluate } from '../src/engine/evaluate.js';
import { RULE_IDS } from '../src/engine/rules/index.js';
import type { EvaluationResult, PolicyRequest } from '../src/engine/types.js';
import { config, seedCluster } from './support.js';
import { PROPERTY_SEED, mutatedRequest, seedRequests } from './property-support.js';

const cluster = seedCluster();
const cfg = config();
const PHASES = ['validate', 'mutate', 'both'] as const;

function wellFormed(result: EvaluationResult): void {
  assert.equal(typeof result.allowed, 'boolean');
  assert.ok(Array.isArray(result.findings));
  assert.ok(Array.isArray(result.patch));
  for (const f of result.findings) {
    assert.ok((RULE_IDS as readonly string[]).includes(f.rule), `rule ${f.rule}`);
    assert.ok(f.action === 'deny' || f.action === 'warn', `action ${f.action}`);
    assert.equal(typeof f.message, 'string');
    assert.equal(typeof f.object, 'string');
  }
  assert.equal(
    result.allowed,
    !result.findings.some((f) => f.action === 'deny'),
    'denied exactly when a finding denies',
  );
  // What the server sends back must serialize.
  assert.doesNotThrow(() => JSON.stringify(result));
}

describe('evaluate() over mutated requests', () => {
  it('accepts every seed request as it is', () => {
    for (const request of seedRequests())
      for (const phase of PHASES) wellFormed(evaluate(request, cluster, cfg, phase));
  });

  it('never throws, answers well formed, and answers the same twice', () => {
    fc.assert(
      fc.property(mutatedRequest(), fc.constantFrom(...PHASES), (request: PolicyRequest, phase) => {
        const copy = structuredClone(request);
        const first = evaluate(request, cluster, cfg, phase);
        wellFormed(first);
        assert.deepEqual(evaluate(copy, cluster, cfg, phase), first);
      }),
      { seed: PROPERTY_SEED, numRuns: 400 },
    );
  });
});
