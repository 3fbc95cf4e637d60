// Every rule family, in the order findings are reported.
import type { MutationRule, ValidationRule } from '../rule.js';
import { networkPairingRule } from './netiface.js';
import { bindingRules } from './binding.js';
import { sriovUnplugRule, unplugByRemovalMutation, unplugByRemovalRule } from './unplug.js';
import { slotRules } from './slots.js';
import { networkSourceRules } from './netsource.js';
import { nadObjectRules } from './nad-object.js';
import { subnetShapeRule } from './subnet.js';
import { hotplugPathRule } from './hotplug-path.js';

export const MUTATION_RULES: readonly MutationRule[] = [unplugByRemovalMutation];

export const VALIDATION_RULES: readonly ValidationRule[] = [
  networkPairingRule,
  bindingRules,
  sriovUnplugRule,
  unplugByRemovalRule,
  slotRules,
  networkSourceRules,
  nadObjectRules,
  subnetShapeRule,
  hotplugPathRule,
];
