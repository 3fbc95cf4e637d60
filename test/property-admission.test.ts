// Properties of the AdmissionReview codec over hostile input: decodeAdmissionReview()
// turns any body into a request or a 400-worthy AdmissionDecodeError (nothing else), and
// what encodeAdmissionResponse() makes of a decoded review is a well-formed answer that
// echoes the uid, keeps the API server's limits and is the same every time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluate } from '../src/engine/evaluate.js';
import {
  AdmissionDecodeError,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  type DecodedReview,
  type Webhook,
} from '../src/admission/review.js';
import { config, seedCluster } from './support.js';
import { PROPERTY_SEED, assertWellFormedAnswer, garbageBody, mutated, seedReviews } from './property-support.js';

const cluster = seedCluster();
const cfg = config();

/** The decoded review, or undefined when the body was refused the documented way. */
function decodeOrRefuse(body: unknown): DecodedReview | undefined {
  try {
    return decodeAdmissionReview(body);
  } catch (err) {
    assert.ok(
      err instanceof AdmissionDecodeError,
      `decode threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`,
    );
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0 && err.message.length < 2000, 'a short message');
    return undefined;
  }
}

describe('decodeAdmissionReview() and encodeAdmissionResponse() over hostile input', () => {
  it('decodes every seed review', () => {
    for (const review of seedReviews()) assert.ok(decodeOrRefuse(JSON.stringify(review)));
  });

  it('refuses garbage bodies with an AdmissionDecodeError only', () => {
    fc.assert(
      fc.property(garbageBody(), (body) => {
        decodeOrRefuse(body);
        decodeOrRefuse(Buffer.from(body));
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('decodes or refuses mutated reviews, and answers decoded ones well formed and the same twice', () => {
    fc.assert(
      fc.property(mutated(seedReviews()), fc.constantFrom<Webhook>('validate', 'mutate'), (review, webhook) => {
        const body = JSON.stringify(review);
        const decoded = decodeOrRefuse(body);
        if (!decoded) return;
        const answer = encodeAdmissionResponse(
          decoded.review,
          evaluate(decoded.request, cluster, cfg, webhook),
          webhook,
        );
        assertWellFormedAnswer(answer, decoded.review.request.uid, webhook);
        const again = decodeAdmissionReview(body);
        assert.deepEqual(
          encodeAdmissionResponse(again.review, evaluate(again.request, cluster, cfg, webhook), webhook),
          answer,
        );
      }),
      { seed: PROPERTY_SEED, numRuns: 400 },
    );
  });
});
