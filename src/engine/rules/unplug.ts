// PLACEHOLDER: to be written (sriov-unplug, unplug-by-removal).
import type { MutationRule, ValidationRule } from '../rule.js';

export const sriovUnplugRule: ValidationRule = { ids: ['sriov-unplug'], kinds: ['VirtualMachine', 'VirtualMachineInstance'], validate() {} };
export const unplugByRemovalRule: ValidationRule = { ids: ['unplug-by-removal'], kinds: ['VirtualMachine', 'VirtualMachineInstance'], validate() {} };
export const unplugByRemovalMutation: MutationRule = { id: 'unplug-by-removal', kinds: ['VirtualMachine', 'VirtualMachineInstance'], mutate() {} };
