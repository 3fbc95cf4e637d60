// The registry: the only list of rules. Their ids, the configuration's defaults and schema,
// the SARIF and JUnit rule catalogue, `explain` and the docs' tests all derive from it. The
// order is the order findings are reported in. A new rule is one file and one line here.
import { absentScope } from './absent-scope.js';
import { bindingSupport } from './binding-support.js';
import { draNetworks } from './dra-networks.js';
import { hotplugBinding } from './hotplug-binding.js';
import { hotplugModel } from './hotplug-model.js';
import { hotplugPath } from './hotplug-path.js';
import { hotplugSlots } from './hotplug-slots.js';
import { interfaceFields } from './interface-fields.js';
import { nadBindingMatch } from './nad-binding-match.js';
import { nadExists } from './nad-exists.js';
import { networkPairing } from './network-pairing.js';
import { ovnProvider } from './ovn-provider.js';
import { ovnSubnet } from './ovn-subnet.js';
import { pciBus } from './pci-bus.js';
import { schema } from './schema.js';
import { sriovUnplug } from './sriov-unplug.js';
import { subnetShape } from './subnet-shape.js';
import { unplugByRemoval } from './unplug-by-removal.js';
import { unplugSkipped } from './unplug-skipped.js';

export const RULES = [
  schema,
  networkPairing,
  interfaceFields,
  bindingSupport,
  draNetworks,
  hotplugBinding,
  hotplugModel,
  sriovUnplug,
  absentScope,
  hotplugSlots,
  pciBus,
  nadExists,
  nadBindingMatch,
  ovnProvider,
  ovnSubnet,
  subnetShape,
  unplugByRemoval,
  unplugSkipped,
  hotplugPath,
] as const;

export type Rule = (typeof RULES)[number];
export type RuleId = Rule['id'];

export const RULE_IDS: readonly RuleId[] = RULES.map((r) => r.id);
