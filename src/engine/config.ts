// Policy configuration: defaults, and validation of a user's file against schemas/config.schema.json.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { RULE_IDS, type PolicyConfig, type RuleId, type RuleSetting } from './types.js';

export const DEFAULT_RULE_SETTINGS: Record<RuleId, RuleSetting> = {
  'network-pairing': 'deny',
  'hotplug-binding': 'deny',
  'hotplug-model': 'deny',
  'sriov-unplug': 'deny',
  'absent-scope': 'deny',
  'hotplug-slots': 'deny',
  'pci-bus': 'deny',
  'nad-exists': 'deny',
  'nad-binding-match': 'deny',
  'ovn-provider': 'deny',
  'ovn-subnet': 'deny',
  'subnet-shape': 'deny',
  'unplug-by-removal': 'mutate',
  'hotplug-path': 'warn',
};

export const DEFAULT_EXEMPT_SERVICE_ACCOUNTS = [
  'system:serviceaccount:kubevirt:kubevirt-controller',
  'system:serviceaccount:kubevirt:kubevirt-handler',
];

export function defaultConfig(): PolicyConfig {
  return {
    rules: { ...DEFAULT_RULE_SETTINGS },
    slotModel: 'v1',
    hotplugSlotTotal: 4,
    pciSlotLimit: 32,
    exemptServiceAccounts: [...DEFAULT_EXEMPT_SERVICE_ACCOUNTS],
    exemptNamespaces: [],
    dynamicNetworksController: true,
  };
}

export class ConfigError extends Error {}

const schemaPath = fileURLToPath(new URL('../../../schemas/config.schema.json', import.meta.url));
let compiled: ReturnType<Ajv['compile']> | undefined;

function validator() {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    compiled = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return compiled;
}

/** Checks a parsed config document and merges it over the defaults. `source` names it in errors. */
export function resolveConfig(doc: unknown, source = 'config'): PolicyConfig {
  if (doc === null || doc === undefined) return defaultConfig();
  const validate = validator();
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => {
      const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
      const extra =
        e.keyword === 'additionalProperties'
          ? `: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`
          : e.keyword === 'enum'
            ? `: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
            : ` ${e.message}`;
      return `${source}: ${field}${extra}`;
    });
    throw new ConfigError(problems.join('\n'));
  }
  const user = doc as Partial<PolicyConfig> & { rules?: Partial<Record<RuleId, RuleSetting>> };
  const base = defaultConfig();
  return {
    ...base,
    ...Object.fromEntries(Object.entries(user).filter(([k]) => k !== 'rules' && k !== 'apiVersion' && k !== 'kind')),
    rules: { ...base.rules, ...(user.rules ?? {}) },
  } as PolicyConfig;
}

export { RULE_IDS };
