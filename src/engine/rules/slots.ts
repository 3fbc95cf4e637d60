// PLACEHOLDER: to be written (rule family 'hotplug-slots', 'pci-bus').
import type { ValidationRule } from '../rule.js';

export const slotRules: ValidationRule = {
  ids: ['hotplug-slots', 'pci-bus'],
  kinds: ['VirtualMachine', 'VirtualMachineInstance'],
  validate() {},
};
