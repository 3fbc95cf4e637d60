// Malformed and hostile input: every path answers with a clear error or a bounded denial,
// never a crash, and work stays linear in the input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AdmissionDecodeError,
  decodeAdmissionReview,
  encodeAdmissionResponse,
  MAX_NESTING_DEPTH,
  NestingScanner,
  textExceedsDepth,
} from '../src/admission/review.js';
import { buildContext, checkRule, evaluate, FINDINGS_PER_RULE } from '../src/engine/evaluate.js';
import { RULES } from '../src/engine/rules/index.js';
import { QUOTE_LIMIT, namesUpTo } from '../src/engine/values.js';
import { KUBEVIRT_LIST_LIMIT } from '../src/engine/vm.js';
import { admissionReview } from './server-support.js';
import { clone, config, create, example, seedCluster, update } from './support.js';
import { hasStackTrace, nicguard, tempDir, writeTree } from './cli-run.js';

const fedoraHotplug = () => update(example('old/vm-fedora.yaml'), example('new/vm-fedora.yaml'), { uid: 'uid-1' });

function decodeError(body: unknown): string {
  try {
    decodeAdmissionReview(body);
  } catch (err) {
    assert.ok(err instanceof AdmissionDecodeError, `expected AdmissionDecodeError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('decoding should have failed');
}

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('the decoder refuses what no rule can judge, with a 400', () => {
  it('a VM or VMI review without object', () => {
    for (const object of [undefined, null]) {
      const review = admissionReview(fedoraHotplug());
      review.request.object = object;
      assert.match(decodeError(review), /request\.object is missing: a UPDATE of VirtualMachine carries the object/);
    }
    // A DELETE carries no object and is allowed untouched.
    const del = admissionReview({ ...fedoraHotplug(), operation: 'DELETE' });
    del.request.object = null;
    assert.equal(decodeAdmissionReview(del).request.operation, 'DELETE');
  });

  it('metadata whose name, namespace or annotations are of the wrong type', () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 5 }, /object\.metadata\.name must be string/],
      [{ name: { toString: 1 } }, /object\.metadata\.name must be string/],
      [{ name: [['x']] }, /object\.metadata\.name must be string/],
      [{ name: 'a', namespace: 1 }, /object\.metadata\.namespace must be string/],
      [{ name: 'a', annotations: { k: 1 } }, /object\.metadata\.annotations\.k must be string/],
      ['just text', /object\.metadata must be object/],
    ];
    for (const [metadata, expected] of cases) {
      const review = admissionReview(fedoraHotplug());
      review.request.object.metadata = metadata;
      assert.match(decodeError(review), expected);
    }
  });

  it('nesting past the limit, before anything else walks it', () => {
    const review = admissionReview(fedoraHotplug());
    review.request.object.spec.deep = nested(MAX_NESTING_DEPTH + 1);
    assert.match(decodeError(JSON.stringify(review)), /nested more than 100 levels deep/);
    // 100,000 levels: refused the same way, no stack overflow anywhere.
    const text = JSON.stringify(review).replace('"leaf"', '['.repeat(100_000) + ']'.repeat(100_000));
    assert.throws(() => decodeAdmissionReview(text), AdmissionDecodeError);
  });

  it('a large body nested past the limit is refused from its text, before JSON.parse builds it', () => {
    // A million levels in 2 MB: parsed, that is a million arrays and a stall of every request.
    const deep = JSON.stringify(admissionReview(fedoraHotplug())).replace(
      '"spec":{',
      `"spec":{"deep":${'['.repeat(1_000_000)}1${']'.repeat(1_000_000)},`,
    );
    const parse = JSON.parse;
    let parsed = 0;
    JSON.parse = (...args: Parameters<typeof JSON.parse>) => (parsed++, parse(...args));
    try {
      assert.match(decodeError(Buffer.from(deep)), /nested more than 100 levels deep/);
      assert.match(decodeError(deep), /nested more than 100 levels deep/);
    } finally {
      JSON.parse = parse;
    }
    assert.equal(parsed, 0);
  });

  it('brackets inside strings are not nesting, escaped quotes do not end a string', () => {
    const limit = 3;
    const within = (text: string) => !textExceedsDepth(Buffer.from(text), limit);
    const text = (value: unknown) => JSON.stringify(value);
    assert.ok(within(text({ a: [{ b: '[[[[{{{{' }] })));
    // A string ending in an escaped backslash: its closing quote still closes it.
    assert.ok(within(text({ a: 'x\\', b: '[[[[' })));
    // An escaped quote does not end the string around it.
    assert.ok(within(text({ a: 'say "[[[[" twice' })));
    assert.ok(within(text({ ä: '[[[[ü' })), 'multi-byte characters');
    assert.ok(!within(text({ a: [{ b: [1] }] })));
    assert.ok(!within(text({ a: 'x\\', b: [[[1]]] })));
    // A valid review above the scan threshold with 100 KB of brackets in a string is judged.
    const review = admissionReview(fedoraHotplug());
    review.request.object.metadata.annotations = { note: '[{'.repeat(50_000) };
    assert.equal(decodeAdmissionReview(Buffer.from(JSON.stringify(review))).request.operation, 'UPDATE');
  });
});

/** Nesting past `limit`, counted byte by byte the plain way: what the scanner must agree with. */
function plainlyExceeds(text: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = String.fromCharCode(text[i]);
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (++depth > limit) return true;
    } else if (c === ']' || c === '}') depth--;
  }
  return false;
}

describe('the nesting scanner fed a body in pieces', () => {
  it('agrees with a plain byte-by-byte count, however the text is cut', () => {
    // Text dense in quotes, backslashes and brackets, cut at random points: escapes and
    // strings split across pieces are the cases a chunked scan can get wrong.
    const text = fc
      .array(fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'ü', ','), { maxLength: 60 })
      .map((parts) => Buffer.from(parts.join('')));
    fc.assert(
      fc.property(
        text,
        fc.nat(4),
        fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 30 }),
        (bytes, limit, cuts) => {
          const scanner = new NestingScanner(limit);
          let at = 0;
          let exceeded = false;
          for (const step of [...cuts, bytes.length]) {
            if (exceeded || at >= bytes.length) break;
            exceeded = scanner.feed(bytes.subarray(at, at + step));
            at += step;
          }
          assert.equal(exceeded, plainlyExceeds(bytes, limit));
        },
      ),
      { numRuns: 20_000, seed: 20261206 },
    );
  });
});

describe('work and output stay bounded', () => {
  it('names in a summary line (reports audit --apply deleted, files in notes) are cut and counted', () => {
    const deleted = Array.from({ length: 5_000 }, (_, i) => `policyreport tenant-${i}/nicguard`);
    const line = namesUpTo(deleted, 10);
    assert.equal(line.split(', ').length, 10);
    assert.match(line, /^policyreport tenant-0\/nicguard, .*tenant-9\/nicguard \(and 4990 more\)$/);
    assert.equal(namesUpTo(deleted.slice(0, 10), 10), deleted.slice(0, 10).join(', '), 'ten: all, none counted');
  });

  it('a Subnet gateway of 20,000 entries (200 KB) is one short finding', () => {
    const subnet = clone(seedCluster().list('Subnet')[0]) as ReturnType<typeof example>;
    subnet.metadata = { name: 'huge' };
    subnet.spec.gateway = '10.16.0.1,'.repeat(20_000);
    const result = evaluate(create(subnet), seedCluster(), config());
    const gateway = result.findings.filter((f) => f.field === 'spec.gateway');
    assert.equal(gateway.length, 1);
    assert.ok(gateway[0].message.length < 600, `message of ${gateway[0].message.length} characters`);
    assert.ok(gateway[0].message.includes('...'), 'the quoted gateway is cut');
  });

  it('thousands of bad interfaces give a bounded list of findings and a bounded denial', () => {
    const vm = example('new/vm-fedora.yaml');
    const spec = vm.spec.template.spec;
    // As many as KubeVirt's CRD lets through (the next test goes past it).
    for (let i = spec.domain.devices.interfaces.length; i < KUBEVIRT_LIST_LIMIT; i++)
      spec.domain.devices.interfaces.push({ name: `bad name ${'x'.repeat(QUOTE_LIMIT * 3)} ${i}`, bridge: {} });
    const result = evaluate(create(vm), seedCluster(), config());
    const pairing = result.findings.filter((f) => f.rule === 'network-pairing');
    assert.equal(pairing.length, FINDINGS_PER_RULE);
    assert.match(pairing[pairing.length - 1].message, /and \d+ more network-pairing findings not listed/);
    const answer = encodeAdmissionResponse(admissionReview(create(vm)), result, 'validate');
    assert.ok(Buffer.byteLength(answer.response.status?.message ?? '') <= 32 * 1024);
  });
});

describe('lists longer than KubeVirt allows', () => {
  const IFACES = 'spec.template.spec.domain.devices.interfaces';
  const withInterfaces = (vm: ReturnType<typeof example>, n: number) => {
    const list = vm.spec.template.spec.domain.devices.interfaces;
    while (list.length < n) list.push({ name: `nic${list.length}`, bridge: {} });
    return vm;
  };

  it('denies 70,000 interfaces once, as the API server would, and no rule reads them', () => {
    // Found by the fuzzer (batch seed 20262109, extreme #1): 70,880 interfaces in an oldObject
    // kept the rules busy 60-140 ms while every other review waited.
    const vm = withInterfaces(example('new/vm-fedora.yaml'), 70_000);
    let reads = 0;
    Object.defineProperty(vm.spec.template.spec.domain.devices.interfaces[69_999], 'name', {
      get: () => {
        reads++;
        return 'nic69999';
      },
      enumerable: true,
    });
    const result = evaluate(create(vm), seedCluster(), config());
    assert.equal(result.allowed, false);
    assert.deepEqual(
      result.findings.map((f) => [f.rule, f.action, f.field]),
      [['network-pairing', 'deny', IFACES]],
    );
    assert.match(result.findings[0].message, /lists 70000 entries; KubeVirt's CRD allows at most 256/);
    assert.equal(reads, 0, 'no rule read the entries');
  });

  it('only warns where the previous version was as long (the API server lets it stand unchanged)', () => {
    const before = withInterfaces(example('old/vm-fedora.yaml'), 300);
    const after = withInterfaces(example('new/vm-fedora.yaml'), 300);
    const result = evaluate(update(before, after), seedCluster(), config());
    assert.equal(result.allowed, true);
    assert.deepEqual(
      result.findings.map((f) => [f.rule, f.action]),
      [['network-pairing', 'warn']],
    );
  });

  it('lets an update shrink an over-long list, with a warning that it was not compared', () => {
    const before = withInterfaces(example('old/vm-fedora.yaml'), 70_000);
    const result = evaluate(update(before, example('new/vm-fedora.yaml')), seedCluster(), config());
    assert.equal(result.allowed, true);
    assert.deepEqual(result.patch, []);
    assert.equal(result.findings.length, 1);
    assert.match(result.findings[0].message, /previous version lists 70000 entries/);
  });

  it('leaves the refusal to validation: the mutate phase neither reads nor denies the lists', () => {
    const result = evaluate(
      create(withInterfaces(example('new/vm-fedora.yaml'), 70_000)),
      seedCluster(),
      config(),
      'mutate',
    );
    assert.deepEqual(result, { allowed: true, findings: [], patch: [] });
  });

  it('judges a list of exactly 256 as usual', () => {
    const vm = withInterfaces(example('new/vm-fedora.yaml'), KUBEVIRT_LIST_LIMIT);
    const result = evaluate(create(vm), seedCluster(), config());
    assert.ok(!result.findings.some((f) => /KubeVirt's CRD allows/.test(f.message)));
  });
});

describe('a rule with thousands of causes', () => {
  const subnetWith = (excludeIps: unknown[]) => {
    const subnet = clone(seedCluster().list('Subnet')[0]) as ReturnType<typeof example>;
    subnet.metadata = { name: 'excludes' };
    subnet.spec.excludeIps = excludeIps;
    return subnet;
  };

  it('builds 20 findings of 50,000 bad excludeIps entries and counts the rest', () => {
    // Found by the fuzzer (batch seed 20261721, extreme #0): 54,555 entries took 130-200 ms.
    const result = evaluate(create(subnetWith(Array.from({ length: 50_000 }, (_, i) => i))), seedCluster(), config());
    const shape = result.findings.filter((f) => f.rule === 'subnet-shape');
    assert.equal(shape.length, FINDINGS_PER_RULE);
    assert.match(shape[FINDINGS_PER_RULE - 1].message, /\(and 49980 more subnet-shape findings not listed\)$/);
  });

  it('does the same for 50,000 bad vips and 50,000 bad natOutgoingPolicyRules', () => {
    const subnet = subnetWith([]);
    delete subnet.spec.excludeIps;
    subnet.spec.vips = Array.from({ length: 50_000 }, (_, i) => i);
    subnet.spec.natOutgoingPolicyRules = Array.from({ length: 50_000 }, () => ({ match: { srcIPs: 1 } }));
    // The rule builds 20 causes per list and counts the rest on them, rather than 100,000.
    const rule = RULES.find((r) => r.id === 'subnet-shape')!;
    const causes = checkRule(rule, buildContext(create(subnet), subnet, seedCluster(), config())!);
    assert.equal(causes.length, 2 * FINDINGS_PER_RULE);
    const shape = evaluate(create(subnet), seedCluster(), config()).findings.filter((f) => f.rule === 'subnet-shape');
    assert.equal(shape.length, FINDINGS_PER_RULE);
    assert.match(shape[0].message, /^spec\.vips\[0\] must be a string\.$/);
    assert.match(shape[FINDINGS_PER_RULE - 1].message, /\(and 99980 more subnet-shape findings not listed\)$/);
  });

  it('never hides a denial behind the warnings listed before it', () => {
    const subnet = subnetWith([]);
    const outside = Array.from({ length: 25 }, (_, i) => `192.168.0.${i + 1}`);
    subnet.spec.excludeIps = [...outside, 7];
    const result = evaluate(create(subnet), seedCluster(), config());
    const shape = result.findings.filter((f) => f.rule === 'subnet-shape');
    assert.equal(result.allowed, false);
    assert.equal(shape.length, FINDINGS_PER_RULE + 1);
    assert.deepEqual(
      shape.map((f) => f.action),
      [...Array<string>(FINDINGS_PER_RULE).fill('warn'), 'deny'],
    );
    assert.equal(shape[FINDINGS_PER_RULE].field, 'spec.excludeIps[25]');
    assert.match(shape[FINDINGS_PER_RULE].message, /\(and 5 more subnet-shape findings not listed\)$/);
  });
});

describe('the CLI on malformed objects', () => {
  it('exits 2 with the file and the field, never 1 and never a stack trace', async () => {
    const dir = tempDir();
    writeTree(dir, {
      'vm.yaml': 'apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: 5\nspec: {}\n',
    });
    const run = await nicguard(['validate', '-f', dir]);
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /vm\.yaml:\d+.*metadata\.name must be string/);
    assert.ok(!hasStackTrace(run.stderr));
  });

  it('exits 2 for an AdmissionReview of a VM without object', async () => {
    const dir = tempDir();
    const review = admissionReview(fedoraHotplug());
    delete review.request.object;
    writeTree(dir, { 'review.json': JSON.stringify(review) });
    const run = await nicguard(['validate', '-f', dir, '-o', 'json']);
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /request\.object is missing/);
    assert.ok(!hasStackTrace(run.stderr));
  });
});
