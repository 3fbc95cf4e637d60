// Policy configuration: defaults and the JSON Schema, both derived from the rule registry,
// and validation of a user's document against that schema. Nothing is read from disk here:
// schemas/config.schema.json is written from configSchema() (npm run schemas) and a test
// keeps the two equal.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { RULES, type RuleId } from './rules/index.js';
import type { PolicyConfig, RuleSetting } from './types.js';
import { dig } from './values.js';

export const CONFIG_API_VERSION = 'nicguard.io/v1alpha1';
const CONFIG_KIND = 'PolicyConfig';

const SLOT_MODELS = ['auto', 'v1', 'v2', 'v3', 'legacy-q35'] as const;

const DEFAULT_EXEMPT_SERVICE_ACCOUNTS = [
  'system:serviceaccount:kubevirt:kubevirt-controller',
  'system:serviceaccount:kubevirt:kubevirt-handler',
];

function defaultRuleSettings(): Record<RuleId, RuleSetting> {
  return Object.fromEntries(RULES.map((r) => [r.id, r.defaultSetting])) as Record<RuleId, RuleSetting>;
}

export function defaultConfig(): PolicyConfig {
  return {
    rules: defaultRuleSettings(),
    slotModel: 'auto',
    hotplugSlotTotal: 4,
    pciSlotLimit: 32,
    exemptServiceAccounts: [...DEFAULT_EXEMPT_SERVICE_ACCOUNTS],
    exemptNamespaces: [],
    dynamicNetworksController: true,
  };
}

/** The JSON Schema of a configuration document (draft-07), as published in schemas/config.schema.json. */
export function configSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://nicguard.dev/schemas/config.schema.json',
    title: 'nicguard policy configuration',
    type: 'object',
    additionalProperties: false,
    properties: {
      apiVersion: { const: CONFIG_API_VERSION },
      kind: { const: CONFIG_KIND },
      rules: {
        description:
          'Per-rule action. Every rule takes deny, warn or off; unplug-by-removal also takes mutate (its default).',
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(RULES.map((r) => [r.id, { enum: [...r.settings] }])),
      },
      slotModel: {
        description:
          'How KubeVirt reserves PCIe root ports for NIC hotplug: auto (follow the KubeVirt version), v1 ' +
          '(v1.4-v1.5), ' +
          'v2 (v1.6.0-v1.6.3, v1.7.0-v1.7.1), v3 (v1.6.4+, v1.7.2+, v1.8, v1.9), legacy-q35 (one spare port).',
        enum: [...SLOT_MODELS],
      },
      kubevirtVersion: {
        description:
          "The KubeVirt release the cluster runs, e.g. v1.8.4. Without it nicguard reads the KubeVirt CR's " +
          'status.observedKubeVirtVersion, and where neither says, judges under every supported release. A release ' +
          'other than the tags v1.4.0-v1.9.0 is judged under every supported release too, and only warned about.',
        type: 'string',
        pattern: '^v?\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]*)?$',
      },
      kubeovnVersion: {
        description:
          "The Kube-OVN release the cluster runs, e.g. v1.15.24. Some of Kube-OVN's Subnet checks differ between " +
          'releases; without it nicguard judges a Subnet under every release it follows (v1.13 to v1.16), refuses ' +
          'only what all of them refuse, and warns where they disagree. A release other than the tags ' +
          'v1.13.0-v1.16.2 is judged the same way, and only warned about.',
        type: 'string',
        pattern: '^v?\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]*)?$',
      },
      hotplugSlotTotal: {
        description:
          "KubeVirt's T of the v1 reservation (ReservedInterfaces = 4 in every release): the interface count the " +
          'domain is laid out for, existing interfaces included. Change it only for a patched KubeVirt.',
        type: 'integer',
        minimum: 0,
        maximum: 64,
      },
      pciSlotLimit: {
        description: 'Slots on the root PCI bus, reserved ones included.',
        type: 'integer',
        minimum: 5,
        maximum: 256,
      },
      exemptServiceAccounts: {
        type: 'array',
        items: { type: 'string', pattern: '^system:serviceaccount:[^:]+:[^:]+$' },
      },
      exemptNamespaces: { type: 'array', items: { type: 'string', minLength: 1 } },
      dynamicNetworksController: {
        description:
          "Whether the cluster runs Multus' dynamic networks controller, so bridge hotplug needs no migration.",
        type: 'boolean',
      },
    },
  };
}

/** One problem of a configuration document: the path of the field it is about, and what is wrong. */
export interface ConfigProblem {
  /** Keys (and list indexes) from the top; for an unknown field, the field itself. */
  path: string[];
  /** `field: what was expected, got what is there`. */
  message: string;
}

export class ConfigError extends Error {
  constructor(
    message: string,
    /** The problems one by one, so that a file reader can add where each field is written. */
    readonly problems: readonly ConfigProblem[] = [],
  ) {
    super(message);
  }
}

// Compiled once per process: the schema is a constant, and compiling costs milliseconds.
let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(configSchema());
  return compiled;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Edit distance, for suggesting the field a typo meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

function expectedKeys(unknown: string, known: string[]): string {
  const close = known.find((k) => distance(k.toLowerCase(), unknown.toLowerCase()) <= 2);
  if (close) return ` (did you mean "${close}"?)`;
  return known.length ? `; expected one of ${known.join(', ')}` : '';
}

function explainError(e: ErrorObject, doc: unknown): ConfigProblem {
  const path = e.instancePath
    ? e.instancePath
        .slice(1)
        .split('/')
        .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    : [];
  const field = path.length
    ? path.map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : `${i ? '.' : ''}${k}`)).join('')
    : '(top level)';
  // With verbose, ajv hands the value itself (dig does not index lists).
  const actual = describeValue('data' in e ? e.data : dig(doc, ...path));
  switch (e.keyword) {
    case 'additionalProperties': {
      const unknown = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return {
        path: [...path, unknown],
        message: `${field}: unknown field "${unknown}"${expectedKeys(unknown, known)}`,
      };
    }
    case 'enum':
      return {
        path,
        message:
          `${field}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}, ` +
          `got ${actual}`,
      };
    case 'const':
      return {
        path,
        message:
          `${field}: must be ${describeValue((e.params as { allowedValue: unknown }).allowedValue)}, got ` +
          `${actual}`,
      };
    default:
      return { path, message: `${field}: ${e.message ?? 'is invalid'}, got ${actual}` };
  }
}

/** Checks a parsed config document and merges it over the defaults. `source` names it in errors. */
export function resolveConfig(doc: unknown, source = 'config'): PolicyConfig {
  if (doc === null || doc === undefined) return defaultConfig();
  const validate = validator();
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => explainError(e, doc));
    throw new ConfigError(problems.map((p) => `${source}: ${p.message}`).join('\n'), problems);
  }
  const user = doc as Partial<PolicyConfig> & {
    rules?: Partial<Record<RuleId, RuleSetting>>;
    apiVersion?: string;
    kind?: string;
  };
  const base = defaultConfig();
  const { rules, apiVersion: _apiVersion, kind: _kind, ...settings } = user;
  return { ...base, ...settings, rules: { ...base.rules, ...rules } };
}
