// Properties of the webhook's HTTP handling over hostile bodies, through the express app
// (supertest) and through the listener the HTTPS server runs: every answer is a
// well-formed AdmissionReview echoing the uid, or a 4xx with a JSON error; never a 5xx;
// and the same body always gets the same answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import { createWebhook } from '../src/server/app.js';
import type { AdmissionReviewResponse, Webhook } from '../src/admission/review.js';
import { config, seedCluster } from './support.js';
import {
  PROPERTY_SEED,
  assertWellFormedAnswer,
  deepBody,
  garbageBody,
  mutated,
  seedReviews,
} from './property-support.js';

const cluster = seedCluster();
const { app, listener } = createWebhook({ getClusterView: () => cluster, getConfig: () => config() });
const server = createServer(listener);

function uidOf(body: string): unknown {
  try {
    return JSON.parse(body)?.request?.uid;
  } catch {
    return undefined;
  }
}

const bodies = fc.oneof(
  { weight: 6, arbitrary: mutated(seedReviews()).map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: garbageBody() },
  { weight: 1, arbitrary: deepBody(1000, 20_000) },
);

async function post(target: Parameters<typeof request>[0], webhook: Webhook, body: string) {
  const res = await request(target).post(`/${webhook}?timeout=10s`).set('content-type', 'application/json').send(body);
  return { status: res.status, text: res.text };
}

function check(webhook: Webhook, body: string, res: { status: number; text: string }): void {
  assert.ok(
    res.status === 200 || (res.status >= 400 && res.status < 500),
    `status ${res.status}: ${res.text.slice(0, 300)}`,
  );
  const json = JSON.parse(res.text);
  if (res.status === 200) assertWellFormedAnswer(json as AdmissionReviewResponse, uidOf(body), webhook);
  else assert.equal(typeof json.message, 'string');
}

describe('the webhook over hostile bodies', () => {
  for (const [via, target] of [
    ['express app', app],
    ['server listener', server],
  ] as const) {
    it(`${via}: answers a well-formed review or a 4xx, never a 5xx, and the same twice`, async () => {
      await fc.assert(
        fc.asyncProperty(bodies, fc.constantFrom<Webhook>('validate', 'mutate'), async (body, webhook) => {
          const first = await post(target, webhook, body);
          check(webhook, body, first);
          assert.deepEqual(await post(target, webhook, body), first);
        }),
        { seed: PROPERTY_SEED, numRuns: 100 },
      );
    });
  }
});
