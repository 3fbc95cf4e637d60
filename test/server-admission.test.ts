import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AdmissionDecodeError,
  WARNINGS_TOTAL_LIMIT,
  WARNING_LIMIT,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  formatDenial,
  formatWarnings,
  truncateBytes,
} from '../src/admission/review.js';
import type { EvaluationResult, Finding } from '../src/engine/types.js';
import { example, update } from './support.js';
import { admissionReview, patchOf } from './server-support.js';

const fedoraHotplug = () => update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'), { uid: 'uid-1' });

function decodeError(body: unknown): string {
  try {
    decodeAdmissionReview(body as string);
  } catch (err) {
    assert.ok(err instanceof AdmissionDecodeError, `expected AdmissionDecodeError, got ${String(err)}`);
    assert.equal(err.status, 400);
    return err.message;
  }
  assert.fail('decoding should have failed');
}

const finding = (rule: Finding['rule'], action: Finding['action'], message: string, field?: string): Finding => ({
  rule,
  action,
  object: 'VirtualMachine default/vm-fedora',
  message,
  ...(field ? { field } : {}),
});

describe('decodeAdmissionReview', () => {
  it('reads a VM UPDATE review into a PolicyRequest', () => {
    const body = JSON.stringify(admissionReview(fedoraHotplug(), { dryRun: true }));
    const { request, review, subResource } = decodeAdmissionReview(Buffer.from(body));
    assert.equal(review.request.uid, 'uid-1');
    assert.equal(subResource, undefined);
    assert.equal(request.uid, 'uid-1');
    assert.equal(request.operation, 'UPDATE');
    assert.equal(request.kind, 'VirtualMachine');
    assert.equal(request.group, 'kubevirt.io');
    assert.equal(request.namespace, 'default');
    assert.equal(request.name, 'vm-fedora');
    assert.equal(request.dryRun, true);
    assert.deepEqual(request.userInfo, { username: 'alice' });
    assert.deepEqual(request.object, example('new/vm-fedora.yaml'));
    assert.deepEqual(request.oldObject, example('old/vm-fedora.yaml'));
  });

  it('takes a string or an already parsed object as well as bytes', () => {
    const review = admissionReview(fedoraHotplug());
    assert.equal(decodeAdmissionReview(JSON.stringify(review)).request.name, 'vm-fedora');
    assert.equal(decodeAdmissionReview(review).request.name, 'vm-fedora');
  });

  it('leaves out the null objects of a CREATE and a DELETE', () => {
    const vm = example('old/vm-fedora.yaml');
    const created = decodeAdmissionReview(
      admissionReview({ operation: 'CREATE', kind: 'VirtualMachine', group: 'kubevirt.io', object: vm }),
    );
    assert.equal(created.request.oldObject, undefined);
    assert.deepEqual(created.request.object, vm);
    const deleted = decodeAdmissionReview(
      admissionReview({ operation: 'DELETE', kind: 'VirtualMachine', group: 'kubevirt.io', oldObject: vm }),
    );
    assert.equal(deleted.request.object, undefined);
    assert.equal(deleted.request.operation, 'DELETE');
  });

  it('reports a subresource and an absent dryRun as false', () => {
    const review = admissionReview(fedoraHotplug(), { subResource: 'status' });
    delete review.request.dryRun;
    const decoded = decodeAdmissionReview(review);
    assert.equal(decoded.subResource, 'status');
    assert.equal(decoded.request.dryRun, false);
  });

  it('refuses a body that is not JSON, or not an object', () => {
    assert.match(decodeError('{"apiVersion": '), /^body is not JSON/);
    assert.match(decodeError(''), /empty body/);
    assert.match(decodeError('[1,2]'), /not a JSON object/);
    assert.match(decodeError('42'), /not a JSON object/);
  });

  it('names the wrong apiVersion or kind', () => {
    const v1beta1 = { ...admissionReview(fedoraHotplug()), apiVersion: 'admission.k8s.io/v1beta1' };
    assert.match(
      decodeError(JSON.stringify(v1beta1)),
      /expected apiVersion admission\.k8s\.io\/v1 .*got apiVersion "admission\.k8s\.io\/v1beta1"/,
    );
    const notReview = { ...admissionReview(fedoraHotplug()), kind: 'TokenReview' };
    assert.match(decodeError(JSON.stringify(notReview)), /kind "TokenReview"/);
  });

  it('refuses a review without a request, or a request without uid, kind or operation', () => {
    assert.match(
      decodeError(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })),
      /has no request/,
    );
    const noUid = admissionReview(fedoraHotplug());
    delete noUid.request.uid;
    assert.match(decodeError(JSON.stringify(noUid)), /request\.uid is missing/);
    const emptyUid = admissionReview(fedoraHotplug(), { uid: '' });
    assert.match(decodeError(JSON.stringify(emptyUid)), /request\.uid must not be empty/);
    const noKind = admissionReview(fedoraHotplug(), { kind: { group: 'kubevirt.io', version: 'v1' } });
    assert.match(decodeError(JSON.stringify(noKind)), /request\.kind\.kind is missing/);
    const badOperation = admissionReview(fedoraHotplug(), { operation: 'PATCH' });
    assert.match(
      decodeError(JSON.stringify(badOperation)),
      /request\.operation must be one of CREATE, UPDATE, DELETE, CONNECT/,
    );
    const badObject = admissionReview(fedoraHotplug(), { object: 'vm-fedora' });
    assert.match(decodeError(JSON.stringify(badObject)), /request\.object must be object,null/);
  });
});

describe('encodeAdmissionResponse', () => {
  const review = admissionReview(fedoraHotplug());
  const allowed: EvaluationResult = { allowed: true, findings: [], patch: [] };

  it('echoes the uid and keeps apiVersion and kind; an allowed answer carries nothing else', () => {
    const out = encodeAdmissionResponse(review, allowed, 'validate');
    assert.deepEqual(out, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: true },
    });
  });

  it('denies with code 403 and a message listing every denial, not the warnings', () => {
    const result: EvaluationResult = {
      allowed: false,
      findings: [
        finding(
          'hotplug-binding',
          'deny',
          'interface "dyniface1" cannot be hotplugged',
          'spec.template.spec.domain.devices.interfaces[1].masquerade',
        ),
        finding('hotplug-path', 'warn', 'attaches after a migration'),
        finding('nad-exists', 'deny', 'NetworkAttachmentDefinition default/nope does not exist'),
      ],
      patch: [],
    };
    const { response } = encodeAdmissionResponse(review, result, 'validate');
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    const message = response.status!.message;
    assert.match(message, /^VirtualMachine default\/vm-fedora: /);
    assert.match(
      message,
      new RegExp(
        /\[hotplug-binding\] interface "dyniface1" cannot be hotplugged /.source +
          /\(spec\.template\.spec\.domain\.devices\.interfaces\[1\]\.masquerade\)/.source,
      ),
    );
    assert.match(message, /\[nad-exists\] NetworkAttachmentDefinition default\/nope does not exist/);
    assert.doesNotMatch(message, /hotplug-path/);
    assert.deepEqual(response.warnings, ['[hotplug-path] attaches after a migration']);
  });

  it('returns a base64 JSON patch from /mutate only when something changed', () => {
    const patch = [
      {
        op: 'add' as const,
        path: '/spec/template/spec/domain/devices/interfaces/1',
        value: { name: 'dyniface1', bridge: {}, state: 'absent' },
      },
    ];
    const mutated: EvaluationResult = {
      allowed: true,
      findings: [finding('unplug-by-removal', 'warn', 'put back')],
      patch,
    };
    const fromMutate = encodeAdmissionResponse(review, mutated, 'mutate').response;
    assert.equal(fromMutate.patchType, 'JSONPatch');
    assert.deepEqual(patchOf(fromMutate), patch);
    const fromValidate = encodeAdmissionResponse(review, mutated, 'validate').response;
    assert.equal(fromValidate.patch, undefined);
    assert.equal(fromValidate.patchType, undefined);
    const unchanged = encodeAdmissionResponse(review, allowed, 'mutate').response;
    assert.equal(unchanged.patch, undefined);
    assert.equal(unchanged.patchType, undefined);
  });

  it('sends no patch with a denial', () => {
    const result: EvaluationResult = {
      allowed: false,
      findings: [finding('hotplug-binding', 'deny', 'no')],
      patch: [{ op: 'remove', path: '/metadata/labels' }],
    };
    const { response } = encodeAdmissionResponse(review, result, 'mutate');
    assert.equal(response.allowed, false);
    assert.equal(response.patch, undefined);
  });
});

describe('warnings within the API server limits', () => {
  it('cuts one long warning to the per-warning limit and keeps it on one line', () => {
    const [w] = formatWarnings([finding('hotplug-path', 'warn', `line one\nline two ${'x'.repeat(1000)}`)]);
    assert.ok(Buffer.byteLength(w) <= WARNING_LIMIT);
    assert.match(w, /^\[hotplug-path\] line one line two x+\.\.\.$/);
  });

  it('keeps the total within 4096 characters and says how many were left out', () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      finding('hotplug-path', 'warn', `interface "nic${i}" attaches only after a live migration ${'.'.repeat(200)}`),
    );
    const out = formatWarnings(many);
    const total = out.reduce((n, w) => n + Buffer.byteLength(w), 0);
    assert.ok(total <= WARNINGS_TOTAL_LIMIT, `total ${total}`);
    for (const w of out) assert.ok(Buffer.byteLength(w) <= WARNING_LIMIT);
    const shown = out.length - 1;
    assert.ok(shown >= 10 && shown < 40, `shown ${shown}`);
    assert.equal(
      out.at(-1),
      `[nicguard] ${40 - shown} more warning(s) not shown; run "nicguard validate" for all of them`,
    );
  });

  it('shows every warning when they fit, and drops exact repeats', () => {
    const out = formatWarnings([
      finding('hotplug-path', 'warn', 'a'),
      finding('hotplug-path', 'warn', 'a'),
      finding('nad-exists', 'warn', 'b'),
    ]);
    assert.deepEqual(out, ['[hotplug-path] a', '[nad-exists] b']);
  });

  it('counts bytes, not characters, and never splits a character', () => {
    const cut = truncateBytes('é'.repeat(200), 101);
    assert.ok(Buffer.byteLength(cut) <= 101);
    assert.match(cut, /^(é)+\.\.\.$/);
    assert.equal(truncateBytes('short', 10), 'short');
  });

  it('cuts where a walk over code points measured with Buffer.byteLength cuts, lone surrogates too', () => {
    // The plain definition truncateBytes replaced (one Buffer.byteLength per character).
    const byCodePoint = (text: string, limit: number) => {
      if (Buffer.byteLength(text) <= limit) return text;
      let out = '';
      let size = 0;
      for (const ch of text) {
        if (size + Buffer.byteLength(ch) > limit - 3) break;
        out += ch;
        size += Buffer.byteLength(ch);
      }
      return `${out}...`;
    };
    // 'binary' units include lone surrogates and astral characters as surrogate pairs.
    const text = fc.string({ unit: 'binary', maxLength: 80 });
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 120 }), (t, limit) => {
        assert.equal(truncateBytes(t, limit), byCodePoint(t, limit));
      }),
      { numRuns: 2000, seed: 20261207 },
    );
  });

  it('keeps a huge denial bounded but says how many there were', () => {
    const many = Array.from({ length: 2000 }, (_, i) =>
      finding('network-pairing', 'deny', `interface "nic${i}" has no network ${'.'.repeat(40)}`),
    );
    const message = formatDenial(many);
    assert.ok(Buffer.byteLength(message) <= 32 * 1024);
    assert.match(message, /\(2000 denials in total\)$/);
  });
});
