// Conformance: nicguard's Kube-OVN Subnet checks against the vectors taken from Kube-OVN's
// own tests and sources (test/conformance/vectors/kubeovn-subnet.json; each cites
// repository, file, test and tag). ValidateSubnet vectors go through `evaluate` on a Subnet
// CREATE, once per followed Kube-OVN release the vector covers (both ends of each stretch
// of releases nicguard treats alike) and, where sibling vectors cover every release, with
// the release unknown. The pure-function vectors run against nicguard's equivalents.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate } from '../src/engine/evaluate.js';
import { formatIp, parseCidr, parseIp, subnetBroadcast, subnetNumber } from '../src/engine/ip.js';
import { KUBE_OVN_STRETCHES, type KubeOvnStretch } from '../src/engine/kubeovn-version.js';
import { analyzeNad, boundProvider, isOvnProvider } from '../src/engine/nad.js';
import { compareVersions, formatVersion, parseVersion, type Version } from '../src/engine/semver.js';
import type { Finding } from '../src/engine/types.js';
import {
  addNic,
  clone,
  config,
  create,
  example,
  findingsOf,
  ROOT,
  seedCluster,
  update,
  type Manifest,
} from './support.js';

interface SubnetVector {
  id: string;
  source: { repo: string; file: string; test: string; tag: string };
  kubeovnVersions: string[];
  input: {
    function: string;
    subnet?: { metadata: { name: string }; spec: Record<string, unknown> };
    env?: Record<string, string>;
    cidr?: string;
    ip?: string;
    provider?: string;
    config?: Record<string, unknown>;
    nad?: { name: string; namespace: string; config: Record<string, unknown> };
  };
  expect: { upstream: string | number | boolean; message?: string };
  note?: string;
}

const VECTORS: SubnetVector[] = JSON.parse(
  readFileSync(join(ROOT, 'test/conformance/vectors/kubeovn-subnet.json'), 'utf8'),
);

/**
 * Vectors nicguard does not model, each with the reason. Nothing else is skipped: a vector
 * of an unknown function fails the run.
 */
const SKIPPED = new Map<string, string>([
  [
    'ko-apiserver-svc',
    "depends on KUBERNETES_SERVICE_HOST of Kube-OVN's webhook pod (the cluster's kubernetes Service address), " +
      'which nicguard cannot know offline',
  ],
  [
    'ko-addresscount-24',
    'AddressCount: nicguard counts no addresses; the one use Kube-OVN makes of it in ValidateSubnet (a count of 1, ' +
      '/32 and /128) nicguard refuses by the prefix (vector ko-32-gateway)',
  ],
  ['ko-addresscount-31', 'AddressCount: as ko-addresscount-24'],
]);

function isReject(v: SubnetVector): boolean {
  return v.expect.upstream === 'reject';
}

/** Whether a release lies in a vector's ranges ("vA-vB" inclusive, or one tag). */
function inRanges(version: Version, ranges: string[]): boolean {
  return ranges.some((range) => {
    const [from, to = from] = range.split('-').map((t) => parseVersion(t) as Version);
    return compareVersions(version, from) >= 0 && compareVersions(version, to) <= 0;
  });
}

/**
 * The stretches a vector covers. Each stretch must be covered wholly or not at all: a vector
 * range that splits one would mean nicguard treats alike releases that Kube-OVN does not.
 */
function coveredStretches(v: SubnetVector): KubeOvnStretch[] {
  return KUBE_OVN_STRETCHES.filter((s) => {
    const [first, last] = [inRanges(s.first, v.kubeovnVersions), inRanges(s.last, v.kubeovnVersions)];
    assert.equal(
      first,
      last,
      `${v.id}: ${v.kubeovnVersions.join(', ')} splits ${formatVersion(s.first)}-${formatVersion(s.last)}`,
    );
    return first;
  });
}

function subnetObject(name: string, spec: Record<string, unknown>): Manifest {
  return { apiVersion: 'kubeovn.io/v1', kind: 'Subnet', metadata: { name }, spec: clone(spec) };
}

/** Every finding on a Subnet CREATE, under a Kube-OVN release or none. */
function judge(subnet: Manifest, kubeovnVersion?: string): Finding[] {
  return evaluate(create(subnet), seedCluster(), config(kubeovnVersion ? { kubeovnVersion } : {})).findings;
}

function describeFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.action} ${f.rule} ${f.field}: ${f.message}`).join('\n') || '(none)';
}

/** upstream reject: a denial by subnet-shape; accept: no denial at all. */
function assertOutcome(v: SubnetVector, findings: Finding[], reject: boolean, under: string): void {
  const denials = findings.filter((f) => f.action === 'deny');
  const context =
    `${v.id} under ${under} (${v.source.test}${v.note ? `; ${v.note}` : ''})\n` + describeFindings(findings);
  if (reject)
    assert.ok(
      denials.some((f) => f.rule === 'subnet-shape'),
      `expected a denial: ${v.expect.message}\n${context}`,
    );
  else assert.deepEqual(denials, [], `expected no denial\n${context}`);
}

/**
 * ValidateNetworkBroadcast(cidr, ip) as a Subnet: its loop skips every address whose
 * family (Kube-OVN's CheckProtocol) matches no block, so only the others become the gateway.
 */
function broadcastSubnet(v: SubnetVector): Manifest {
  const blocks = (v.input.cidr ?? '').split(',').flatMap((c) => parseCidr(c) ?? []);
  const gateway = (v.input.ip ?? '')
    .split(',')
    .filter((text) => blocks.some((b) => b.family === parseIp(text)?.family))
    .join(',');
  return subnetObject('nb', { cidrBlock: v.input.cidr, gateway });
}

const SOCKET = '/run/openvswitch/kube-ovn-daemon.sock';

function nadObject(name: string, namespace: string, cniConfig: Record<string, unknown>): Manifest {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace },
    spec: { config: JSON.stringify(cniConfig) },
  };
}

/** The outcome nicguard gives each pure-function vector, compared with expect.upstream. */
function pureAnswer(v: SubnetVector): string | boolean {
  const i = v.input;
  switch (i.function) {
    case 'SubnetBroadcast':
    case 'SubnetNumber': {
      const cidr = parseCidr(i.cidr ?? '');
      assert.ok(cidr, `${v.id}: ${i.cidr} parses`);
      const value = i.function === 'SubnetBroadcast' ? subnetBroadcast(cidr) : subnetNumber(cidr);
      return value === undefined ? '' : formatIp(value, cidr.family);
    }
    case 'IsOvnProvider':
      return isOvnProvider(i.provider ?? '');
    case 'IsOvnNetwork':
      return analyzeNad(nadObject('n', 'default', i.config ?? {})).ovnRole === 'network';
    case 'providerForNad': {
      const nad = i.nad;
      assert.ok(nad, v.id);
      return boundProvider(nadObject(nad.name, nad.namespace, nad.config)) ?? '';
    }
    default:
      throw new Error(`vector ${v.id}: unknown function ${i.function}`);
  }
}

const PURE_FUNCTIONS = ['SubnetBroadcast', 'SubnetNumber', 'IsOvnProvider', 'IsOvnNetwork', 'providerForNad'];

const byFunction = (fn: string) => VECTORS.filter((v) => v.input.function === fn && !SKIPPED.has(v.id));

describe('conformance: Kube-OVN Subnet validation (ValidateSubnet)', () => {
  it('reads the vectors, each citing its upstream source; every skip names a vector', () => {
    assert.ok(VECTORS.length >= 85);
    for (const v of VECTORS) assert.ok(v.source.repo && v.source.file && v.source.test && v.source.tag, v.id);
    for (const id of SKIPPED.keys())
      assert.ok(
        VECTORS.some((v) => v.id === id),
        id,
      );
  });

  for (const v of byFunction('ValidateSubnet')) {
    it(`${v.id} (${v.source.file}, ${v.source.tag})`, () => {
      const subnet = v.input.subnet;
      assert.ok(subnet, v.id);
      const stretches = coveredStretches(v);
      assert.ok(stretches.length > 0, `${v.id} covers a followed release`);
      for (const s of stretches) {
        for (const release of [s.first, s.last]) {
          const version = formatVersion(release);
          assertOutcome(v, judge(subnetObject(subnet.metadata.name, subnet.spec), version), isReject(v), version);
        }
      }
    });
  }

  // Vectors with one input together cover releases; where they cover every followed one, the
  // outcome without a configured release follows: all reject, deny; all accept, no denial;
  // mixed, a warning and no denial.
  const groups = new Map<string, SubnetVector[]>();
  for (const v of byFunction('ValidateSubnet')) {
    const key = JSON.stringify(v.input.subnet);
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  for (const group of groups.values()) {
    const covering = (s: KubeOvnStretch) => group.find((v) => inRanges(s.first, v.kubeovnVersions));
    if (!KUBE_OVN_STRETCHES.every(covering)) continue;
    const rejects = KUBE_OVN_STRETCHES.map((s) => isReject(covering(s) as SubnetVector));
    const ids = group.map((v) => v.id).join(' + ');
    it(`${ids}: release unknown`, () => {
      const { metadata, spec } = group[0].input.subnet as { metadata: { name: string }; spec: Record<string, unknown> };
      const findings = judge(subnetObject(metadata.name, spec));
      if (rejects.every(Boolean) || !rejects.some(Boolean)) {
        assertOutcome(group[0], findings, rejects[0], 'an unknown release');
      } else {
        assert.deepEqual(
          findings.filter((f) => f.action === 'deny'),
          [],
          describeFindings(findings),
        );
        const names = (f: Finding) =>
          f.rule === 'subnet-shape' && f.action === 'warn' && /refuse it; .* accept it/.test(f.message);
        assert.ok(findings.some(names), describeFindings(findings));
      }
    });
  }
});

describe('conformance: Kube-OVN gateway against its block (ValidateNetworkBroadcast)', () => {
  for (const v of byFunction('ValidateNetworkBroadcast')) {
    it(`${v.id} (${v.source.file}, ${v.source.tag})`, () => {
      for (const s of coveredStretches(v)) {
        for (const release of [s.first, s.last]) {
          const findings = judge(broadcastSubnet(v), formatVersion(release));
          assertOutcome(v, findings, isReject(v), formatVersion(release));
          if (isReject(v))
            assert.ok(
              findings.some((f) => f.action === 'deny' && f.field === 'spec.gateway'),
              v.id,
            );
        }
      }
    });
  }
});

describe('conformance: Kube-OVN address and provider functions', () => {
  for (const fn of PURE_FUNCTIONS) {
    for (const v of byFunction(fn)) {
      it(`${v.id} (${fn}; ${v.source.file}, ${v.source.tag})`, () => {
        assert.equal(pureAnswer(v), v.expect.upstream, `${v.source.test}${v.note ? `; ${v.note}` : ''}`);
      });
    }
  }

  // A NAD whose provider no Subnet has (pkg/controller/pod.go getPodKubeovnNets): v1.15.18+
  // fail the attachment, the other releases silently use the default subnet. nicguard flags
  // both (denies the hotplug: a silent wrong address is no better) and its message names both.
  for (const v of byFunction('attachWithoutSubnet')) {
    it(`${v.id} (attachWithoutSubnet; ${v.source.file}, ${v.source.tag})`, () => {
      const [name, namespace] = (v.input.provider ?? '').split('.');
      const cni = { cniVersion: '0.3.1', type: 'kube-ovn', server_socket: SOCKET, provider: v.input.provider };
      const nad = nadObject(name, namespace, cni);
      const vm = example('old/vm-fedora.yaml');
      const nic = { name: 'dyniface1', bridge: {} };
      const hotplugged = addNic(clone(vm), nic, { name: 'dyniface1', multus: { networkName: name } });
      const [f] = findingsOf('ovn-subnet', update(vm, hotplugged), seedCluster(nad));
      assert.equal(f?.action, 'deny', v.id);
      assert.ok(
        f.message.includes(isReject(v) ? (v.expect.message ?? '') : 'address from the default subnet'),
        f.message,
      );
      const ranges = isReject(v) ? 'v1.15.18 and later' : 'before v1.15.18 and in v1.13, v1.14, v1.16.0-v1.16.2';
      assert.ok(f.message.includes(ranges), f.message);
    });
  }
});

describe('conformance: the vectors nicguard runs', () => {
  it('runs every vector but the skipped ones', () => {
    const modelled = new Set(['ValidateSubnet', 'ValidateNetworkBroadcast', 'attachWithoutSubnet', ...PURE_FUNCTIONS]);
    const unrun = VECTORS.filter((v) => !modelled.has(v.input.function) && !SKIPPED.has(v.id));
    assert.deepEqual(
      unrun.map((v) => v.id),
      [],
    );
  });
});
